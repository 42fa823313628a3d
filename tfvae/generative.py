"""The VQ-VAE and its prior as one generative model.

Functions that join a trained `VQVAE` and a `PixelCNNPrior` fitted to its codes:
encode a data set into code grids, sample new images, and bound the negative
log-likelihood of images under the two-stage model.
"""

import math

import numpy as np
import tensorflow as tf

from tfvae import losses

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


def observation_scale(vqvae, images):
    """Root of the VQ-VAE's mean squared reconstruction error on `images`.

    The maximum-likelihood scale of a Gaussian around the reconstructions: pass
    training images, and use it as `nll_bound`'s `observation_scale`.
    """
    return math.sqrt(float(np.mean((vqvae.reconstruct(images).numpy() - images) ** 2)))


def sample_images(vqvae, prior, n, seed=None, temperature=1.0, labels=None):
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
    For "bernoulli" VQ-VAEs p(x | z_q) is their Bernoulli likelihood (binary
    data). For "mse" VQ-VAEs it is a discretised Gaussian over `num_bins` levels
    in [0, 1] centred on the reconstruction with standard deviation
    `observation_scale` (required: fit it on training data, e.g. the root of the
    training MSE), so the bound holds for the discrete images.

    Returns:
        dict of NumPy arrays `(n,)`: "reconstruction_nats", "prior_nats",
        "total_nats" and "bits_per_dim" (total / (H * W * C * ln 2)).
    """
    check_compatible(vqvae, prior)
    if vqvae.reconstruction == "mse" and (observation_scale is None or not observation_scale > 0):
        raise ValueError(
            "nll_bound of an 'mse' VQ-VAE needs observation_scale > 0 (e.g. sqrt of the training MSE); "
            f"received observation_scale={observation_scale!r}."
        )
    recon, prior_nats = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        lb = None if labels is None else labels[start : start + batch_size]
        codes = vqvae.encode(xb)
        mean = vqvae.decode(codes)
        if vqvae.reconstruction == "bernoulli":
            mean = tf.clip_by_value(mean, 1e-7, 1 - 1e-7)
            logits = tf.math.log(mean) - tf.math.log1p(-mean)
            log_px = losses.bernoulli_log_likelihood(xb, logits)
        else:
            log_px = losses.discretized_gaussian_log_likelihood(xb, mean, math.log(observation_scale), num_bins)
        recon.append(-log_px.numpy())
        prior_nats.append(-prior.log_prob(codes, lb).numpy())
    recon, prior_nats = np.concatenate(recon).astype(np.float64), np.concatenate(prior_nats).astype(np.float64)
    total = recon + prior_nats
    dims = math.prod(vqvae.image_shape)
    return {"reconstruction_nats": recon, "prior_nats": prior_nats, "total_nats": total,
            "bits_per_dim": total / (dims * math.log(2.0))}
