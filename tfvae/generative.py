"""The VQ-VAE and its prior as one generative model.

Functions that join a trained `VQVAE` and a `PixelCNNPrior` fitted to its codes:
encode a data set into code grids, sample new images, and bound the negative
log-likelihood of images under the two-stage model.
"""

import math

import numpy as np
import tensorflow as tf

from tfvae._checks import check_positive_int

__all__ = ["check_compatible", "encode_dataset", "nll_bound", "observation_scale", "sample_images"]


def check_compatible(vqvae, prior):
    """Raises `ValueError` unless the prior models the VQ-VAE's code grids."""
    if tuple(prior.grid_shape) != tuple(vqvae.grid_shape) or prior.num_embeddings != vqvae.num_embeddings:
        raise ValueError(
            f"The prior models {prior.num_embeddings} codes on a {tuple(prior.grid_shape)} grid, but the VQ-VAE "
            f"makes {vqvae.num_embeddings} codes on a {tuple(vqvae.grid_shape)} grid."
        )


def encode_dataset(vqvae, data, batch_size=512):
    """Code grids of all images in `data` (an array, or a dataset of images or (images, labels)).

    Returns int32 codes `(n, h, w)`, and the labels too when `data` yields pairs.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if isinstance(data, tf.data.Dataset):
        batches = data
    else:
        batches = tf.data.Dataset.from_tensor_slices(data).batch(batch_size)
    codes, labels = [], []
    for batch in batches:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        codes.append(vqvae.encode(x).numpy())
        if isinstance(batch, (tuple, list)):
            labels.append(np.asarray(batch[1]))
    codes = np.concatenate(codes)
    return (codes, np.concatenate(labels)) if labels else codes


def observation_scale(vqvae, images, batch_size=500):
    """Root of the VQ-VAE's mean squared reconstruction error on `images`.

    The maximum-likelihood scale of a Gaussian around the reconstructions: pass
    training images, and use it as `nll_bound`'s `observation_scale`. Images
    go through the model `batch_size` at a time, so memory does not grow with
    their number (one call on a whole data set would hold all its activations).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    images = np.asarray(images)
    if images.shape[0] == 0:
        raise ValueError(f"observation_scale needs at least one image; received an empty array, shape {images.shape}.")
    squared_error = 0.0
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size]
        difference = vqvae.reconstruct(batch).numpy().astype(np.float64) - batch
        squared_error += float(np.sum(difference**2))
    return math.sqrt(squared_error / images.size)


def sample_images(vqvae, prior, n, *, seed=None, labels=None, temperature=1.0):
    """New images: `n` code grids drawn from the prior, decoded by the VQ-VAE.

    Returns:
        `(images, codes)`: float32 `(n, H, W, C)` and int32 `(n, h, w)`.
    """
    check_compatible(vqvae, prior)
    codes = prior.sample(n, seed=seed, temperature=temperature, labels=labels)
    return vqvae.decode(codes), codes


def nll_bound(vqvae, prior, x, labels=None, observation_scale=None, num_bins=256, batch_size=500):
    """Upper bound on -log p(x) of the two-stage model, per image.

    With the VQ-VAE's deterministic one-hot posterior, -log p(x) <=
    -log p(x | z_q) - log p_prior(z_q) (the KL term reduces to -log p_prior(z_q)).
    p(x | z_q) is `vqvae.reconstruction_log_likelihood`: for "bernoulli" VQ-VAEs
    their Bernoulli likelihood from the decoder's logits (binary images only);
    for "mse" VQ-VAEs a discretised Gaussian over `num_bins` levels in [0, 1]
    centred on the reconstruction with standard deviation `observation_scale`
    (required: fit it on training data, e.g. the root of the training MSE).
    Both are probabilities of the discrete images, so the bound holds; data they
    cannot score (grey levels for Bernoulli; values outside [0, 1], such as
    centred data, or off the levels for the Gaussian) raise `ValueError`.

    Returns:
        dict of NumPy arrays `(n,)`: "reconstruction_nats", "prior_nats",
        "total_nats" and "bits_per_dim" (total / (H * W * C * ln 2)).
    """
    from tfvae.metrics import bits_per_dim

    check_compatible(vqvae, prior)
    batch_size = check_positive_int(batch_size, "batch_size")
    recon, prior_nats = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        lb = None if labels is None else labels[start : start + batch_size]
        codes = vqvae.encode(xb)
        log_px = vqvae.reconstruction_log_likelihood(xb, codes, observation_scale, num_bins)
        recon.append(-log_px.numpy())
        prior_nats.append(-prior.log_prob(codes, lb).numpy())
    recon, prior_nats = np.concatenate(recon).astype(np.float64), np.concatenate(prior_nats).astype(np.float64)
    total = recon + prior_nats
    likelihood, _ = vqvae.discrete_likelihood(observation_scale, num_bins)
    return {"reconstruction_nats": recon, "prior_nats": prior_nats, "total_nats": total,
            "bits_per_dim": bits_per_dim(total, x, likelihood)}
