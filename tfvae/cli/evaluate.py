"""`tfvae evaluate`: the figures of a saved model on a data set's test split."""

import math
import sys


def run(a):
    import numpy as np

    from tfvae import data, generative
    from tfvae.checkpoint import load_model
    from tfvae.metrics import bits_per_dim

    model = load_model(a.model)
    conditional = getattr(model, "num_classes", None) is not None
    arrays = data.load_arrays(a.dataset, a.split, with_labels=conditional, limit=a.examples)
    x, y = arrays if conditional else (arrays, None)
    if a.binarize:
        x = (np.random.default_rng(0).random(x.shape) < x).astype(np.float32)
    results = {"model": a.model, "dataset": a.dataset, "split": a.split, "examples": len(x)}
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
    return results
