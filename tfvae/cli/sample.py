"""`tfvae sample`: images from a `.keras` model or a SavedModel, written as a PNG grid."""

import os


def run(a):
    import numpy as np

    from tfvae import generative, images
    from tfvae.checkpoint import load_model

    labels = None
    if a.labels:
        labels = np.resize(np.asarray(a.labels, np.int32), a.num_samples)
    if os.path.isdir(a.model):
        from tfvae.export import load_saved_model

        loaded = load_saved_model(a.model)
        signatures = loaded.signatures
        if "sample" not in signatures:
            raise ValueError(f"{a.model} has no 'sample' signature; it has {sorted(signatures)}.")
        inputs = {"seed": np.arange(a.seed, a.seed + a.num_samples, dtype=np.int64)}
        if labels is not None:
            inputs["label"] = labels
        out = signatures["sample"](**inputs)["images"].numpy()
        value_range = _saved_value_range(loaded, a.model)
    else:
        model = load_model(a.model)
        value_range = getattr(model, "value_bounds", None)  # what image models have
        if value_range is None:
            raise ValueError(f"{a.model} holds a {type(model).__name__}; sample takes a VAE or VQ-VAE.")
        if callable(getattr(model, "sample", None)):  # a VAE or an adversarial autoencoder samples its own prior
            out = model.sample(a.num_samples, labels=labels, seed=a.seed).numpy()
        elif not a.prior:
            raise ValueError(f"a {type(model).__name__} has no prior of its own to sample: sampling a VQ-VAE needs "
                             "--prior, the PixelCNN prior of its codes; a plain autoencoder cannot generate images "
                             "(the adversarial autoencoder can).")
        else:
            out = generative.sample_images(model, load_model(a.prior), a.num_samples, seed=a.seed,
                                           temperature=a.temperature, labels=labels)[0].numpy()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    shape = images.save_png(a.out, out, columns=a.columns, value_range=value_range)
    return {"out": a.out, "num_samples": a.num_samples, "png_shape": list(shape)}


def _saved_value_range(loaded, path):
    """The value range a SavedModel was exported with (tfvae.export writes it beside the signatures)."""
    if not hasattr(loaded, "value_range"):
        raise ValueError(f"{path} records no value range (it was exported before tfvae recorded one): re-export "
                         "it with `tfvae export`, or sample from its .keras file.")
    low, high = (float(v) for v in loaded.value_range[0].numpy())
    return low, high
