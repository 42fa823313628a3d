"""`tfvae evaluate`: the figures of a saved model on a data set's test split."""

import math
import sys


def run(a):
    import numpy as np

    from tfvae import data, generative
    from tfvae.checkpoint import load_model
    from tfvae.cli.parser import source_args
    from tfvae.metrics import bits_per_dim

    a.dataset = data.source(a.dataset, **source_args(a))
    model = load_model(a.model)
    conditional = getattr(model, "num_classes", None) is not None
    arrays = data.load_arrays(a.dataset, a.split, with_labels=conditional, limit=a.examples)
    x, y = arrays if conditional else (arrays, None)
    if a.binarize:
        x = (np.random.default_rng(0).random(x.shape) < x).astype(np.float32)
    results = {"model": a.model, "dataset": str(a.dataset), "split": a.split, "examples": len(x)}
    inputs = x
    if model.value_bounds is None:  # a model of code grids: it is evaluated on a VQ-VAE's codes of the images
        if not a.vqvae:
            raise ValueError(f"{a.model} models code grids; evaluating it needs --vqvae, the VQ-VAE whose codes "
                             "it models.")
        inputs = generative.encode_dataset(load_model(a.vqvae), x)
    # The model's own metrics, named as in its training logs.
    results.update(model.evaluate(*((inputs, y) if conditional else (inputs,)), batch_size=500, verbose=0,
                                  return_dict=True))
    if model.value_bounds is None:
        results["nats_per_code"] = results["loss"] / math.prod(model.grid_shape)
    if callable(getattr(model, "log_likelihood", None)):
        if a.iw_samples != 0:
            args = {} if a.iw_samples is None else {"num_samples": a.iw_samples}
            results["nll"] = float(-model.log_likelihood(x, y, seed=0, **args).mean())
        try:
            results["bits_per_dim"] = float(bits_per_dim(results.get("nll", results["loss"]), x, model.likelihood))
        except ValueError as e:
            print(f"tfvae evaluate: no bits/dim: {e}", file=sys.stderr)
    if a.prior:
        from tfvae.cli import reporting

        prior = load_model(a.prior)
        bound = reporting.two_stage_figures(model, prior, x, y, data.load_arrays(a.dataset, "train", limit=10_000))
        results.update(prior_nats_per_code=bound["test_prior_nats"] / math.prod(model.grid_shape),
                       nll_bound_bits_per_dim=bound["test_nll_bound_bits_per_dim"])
    if a.samples:
        results.update(_sample_quality(a, model, x, y))
    return results


def _extractor(a):
    """The extractor of --extractor, or tfvae's classifier of the data set (binarised MNIST: MNIST's, trained on
    binarised images)."""
    import keras

    from tfvae import evaluation

    if a.extractor:
        extractor = keras.saving.load_model(a.extractor)
        if not isinstance(extractor, evaluation.FeatureExtractor):
            raise ValueError(f"--extractor {a.extractor} is a {type(extractor).__name__}, not a FeatureExtractor.")
        return extractor.verify()
    if str(a.dataset) == "binarized_mnist":
        return evaluation.train_feature_extractor("mnist", binarize="dynamic")
    return evaluation.train_feature_extractor(a.dataset)


def _sample_quality(a, model, x, y):
    """`sample_*` figures of N samples and `reconstruction_*` figures of N reconstructions (where the model has
    them) against the first N images of the split."""
    from tfvae import evaluation
    from tfvae.checkpoint import load_model

    n = a.samples
    if len(x) < n:
        raise ValueError(f"--samples {n} compares with as many test images; the split has {len(x)} (see --examples).")
    extractor = _extractor(a)
    out = {"samples": n, "extractor": extractor.description}
    if model.value_bounds is None:  # a prior: its samples decode through --vqvae
        source, images_model = (load_model(a.vqvae), model), None
    elif callable(getattr(model, "sample", None)):
        source, images_model = model, model
    elif a.prior:  # a VQ-VAE with its prior
        source, images_model = (model, load_model(a.prior)), model
    else:
        source, images_model = None, model
    reference = x[:n]
    if source is not None:
        value_range = (source[0] if isinstance(source, tuple) else source).value_range
        figures = evaluation.evaluate_samples(source, reference, extractor, n=n, value_range=value_range)
        out.update({f"sample_{k}": v for k, v in figures.items() if k not in ("extractor", "num_reference")})
    if images_model is not None:
        figures = evaluation.evaluate_reconstructions(images_model, reference, extractor, n=n,
                                                      labels=None if y is None else y[:n])
        out.update({f"reconstruction_{k}": v for k, v in figures.items() if k not in ("extractor", "num_images")})
    return out
