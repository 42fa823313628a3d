"""Per-example loss terms of the variational autoencoders, as pure functions.

Every function takes a batch and returns one value per example (shape `(batch,)`).
The VAE's log-likelihoods and KL are summed over all other axes, in nats; the
VQ-VAE's squared errors are averaged over them, as in van den Oord et al. (2017)
and the keras.io example, so that the commitment cost keeps its published scale.
Terms are computed in float32 whatever the inputs' dtype, so mixed-precision
models keep a float32 objective. Models average these over the batch; nothing
here reduces over examples.
"""

import math

from keras import ops

__all__ = [
    "discretized_gaussian_log_likelihood",
    "mean_squared_error",
    "vq_codebook_loss",
    "vq_commitment_loss",
    "bernoulli_log_likelihood",
    "diagonal_gaussian_log_prob",
    "gaussian_kl",
    "gaussian_log_likelihood",
    "standard_normal_log_prob",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _f32(x):
    return ops.cast(x, "float32")


def _mean_per_example(t):
    """Averages every axis but the first."""
    if len(t.shape) == 1:
        return t
    return ops.mean(ops.reshape(t, (ops.shape(t)[0], -1)), axis=-1)


def _sum_per_example(t):
    """Sums every axis but the first."""
    if len(t.shape) == 1:
        return t
    return ops.sum(ops.reshape(t, (ops.shape(t)[0], -1)), axis=-1)


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, in closed form.

    Args:
        mean: tensor `(batch, ...)`. Mean of the diagonal Gaussian q(z|x).
        log_var: tensor of the same shape. Log-variance of q(z|x).

    Returns:
        Tensor `(batch,)`: 0.5 * sum(exp(log_var) + mean^2 - 1 - log_var).
    """
    mean, log_var = _f32(mean), _f32(log_var)
    return 0.5 * _sum_per_example(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var)


def bernoulli_log_likelihood(x, logits):
    """log p(x | logits) of independent Bernoulli pixels, per example.

    Uses x * logits - softplus(logits), which is exact and stable for any logit
    and also defined for x in [0, 1] (grey levels used as probabilities).

    Args:
        x: tensor `(batch, ...)` with values in [0, 1].
        logits: tensor of the same shape.

    Returns:
        Tensor `(batch,)` of log-likelihoods in nats.
    """
    x, logits = _f32(x), _f32(logits)
    return _sum_per_example(x * logits - ops.softplus(logits))


def gaussian_log_likelihood(x, mean, log_scale):
    """log N(x; mean, exp(log_scale)^2) of independent dimensions, per example.

    Args:
        x: tensor `(batch, ...)`.
        mean: tensor of the same shape.
        log_scale: tensor broadcastable to `x` (a scalar, a per-dimension vector
            or one value per element): the log standard deviation.

    Returns:
        Tensor `(batch,)` of log-densities in nats.
    """
    x, mean = _f32(x), _f32(mean)
    # Broadcast first: a scalar scale must count once per dimension in the sum.
    log_scale = ops.broadcast_to(_f32(log_scale), ops.shape(x))
    z = (x - mean) * ops.exp(-log_scale)
    return _sum_per_example(-0.5 * _LOG_2PI - log_scale - 0.5 * ops.square(z))


def diagonal_gaussian_log_prob(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis.

    Unlike the functions above this one reduces only the last axis, so it serves
    both a batch `(batch, d)` and importance samples `(k, batch, d)`.
    """
    z, mean, log_var = _f32(z), _f32(mean), _f32(log_var)
    return ops.sum(
        -0.5 * (_LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var)), axis=-1
    )


def standard_normal_log_prob(z):
    """log N(z; 0, I), summed over the last axis."""
    z = _f32(z)
    return ops.sum(-0.5 * (_LOG_2PI + ops.square(z)), axis=-1)


def mean_squared_error(x, x_hat):
    """Mean over pixels of (x - x_hat)^2, per example."""
    return _mean_per_example(ops.square(_f32(x) - _f32(x_hat)))


def vq_codebook_loss(z, z_q):
    """||sg(z) - z_q||^2 averaged over positions and dimensions, per example.

    Moves the codewords `z_q` toward the encoder outputs `z`; no gradient reaches
    the encoder (van den Oord et al., 2017, eq. 3, second term).
    """
    return _mean_per_example(ops.square(ops.stop_gradient(_f32(z)) - _f32(z_q)))


def vq_commitment_loss(z, z_q):
    """||z - sg(z_q)||^2 averaged over positions and dimensions, per example.

    Keeps the encoder committed to its codewords; no gradient reaches the
    codebook (eq. 3, third term, without its weight beta).
    """
    return _mean_per_example(ops.square(_f32(z) - ops.stop_gradient(_f32(z_q))))


def discretized_gaussian_log_likelihood(x, mean, log_scale, num_bins=256):
    """log P(x) of pixels with `num_bins` levels in [0, 1] under a discretised Gaussian, per example.

    Level k/(num_bins - 1) gets the Gaussian's mass on its bin of width
    1/(num_bins - 1); the first and last bins extend to -inf and +inf, so the
    probabilities of all levels sum to one and the result is a true
    log-probability (nats), usable in a bound on discrete data. Far in a tail,
    where the bin's mass underflows, the density at the centre times the bin
    width stands in for it.

    Args:
        x: tensor `(batch, ...)`, values k/(num_bins - 1).
        mean: tensor of the same shape.
        log_scale: tensor broadcastable to `x`: log standard deviation.
        num_bins: int. Number of levels (256 for 8-bit images).

    Returns:
        Tensor `(batch,)`.
    """
    x, mean = _f32(x), _f32(mean)
    log_scale = ops.broadcast_to(_f32(log_scale), ops.shape(x))
    half = 0.5 / (num_bins - 1)
    inv = ops.exp(-log_scale)
    upper = (x + half - mean) * inv
    lower = (x - half - mean) * inv
    log_cdf_upper = _log_ndtr(upper)  # log P(X <= upper edge), for the first bin
    log_sf_lower = _log_ndtr(-lower)  # log P(X > lower edge), for the last bin
    mass = _ndtr(upper) - _ndtr(lower)
    log_mid = ops.where(
        mass > 1e-6,
        ops.log(ops.maximum(mass, 1e-30)),
        -0.5 * _LOG_2PI - log_scale - 0.5 * ops.square((x - mean) * inv) + math.log(2 * half),
    )
    first, last = x < half, x > 1.0 - half
    return _sum_per_example(ops.where(first, log_cdf_upper, ops.where(last, log_sf_lower, log_mid)))


def _ndtr(t):
    return 0.5 * ops.erfc(-t / math.sqrt(2.0))


def _log_ndtr(t):
    # Accurate far into the tails, where log(ndtr(t)) would underflow to -inf.
    import tensorflow_probability as tfp

    return tfp.distributions.Normal(0.0, 1.0).log_cdf(t)
