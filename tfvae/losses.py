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
    "discriminator_loss",
    "generator_loss",
    "squared_error",
    "mean_squared_error",
    "vq_codebook_loss",
    "vq_commitment_loss",
    "bernoulli_log_likelihood",
    "diagonal_gaussian_log_prob",
    "diagonal_gaussian_component_log_probs",
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


def gaussian_kl(mean, log_var, prior_mean=None):
    """KL(N(mean, exp(log_var)) || N(prior_mean, I)) per example, in closed form.

    Args:
        mean: tensor `(batch, ...)`. Mean of the diagonal Gaussian q(z|x).
        log_var: tensor of the same shape. Log-variance of q(z|x).
        prior_mean: tensor broadcastable to `mean`, or None for N(0, I). The
            prior's mean, e.g. a learned mean per class (unit variance).

    Returns:
        Tensor `(batch,)`: 0.5 * sum(exp(log_var) + (mean - prior_mean)^2 - 1 - log_var).
    """
    mean, log_var = _f32(mean), _f32(log_var)
    if prior_mean is not None:
        mean = mean - _f32(prior_mean)
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


def diagonal_gaussian_component_log_probs(z, means, log_vars):
    """log N(z; mean_c, diag(exp(log_var_c))) of latents `(..., D)` under each of K components: `(..., K)`.

    Written as two matmuls, sum_d z_d^2 / v_cd and sum_d z_d mu_cd / v_cd, instead of a broadcast `(..., K, D)`:
    with hundreds of components and thousands of importance samples the broadcast is most of an evaluation's
    time. The expansion cancels large terms when a component is narrow (1 / v_cd = 10^4 for sigma = 0.01), which
    float32 cannot afford (errors of hundredths of a nat); in float64 it is as exact as the direct sum.
    """
    d = ops.shape(means)[-1]
    flat = ops.reshape(ops.cast(z, "float64"), (-1, d))
    means, log_vars = ops.cast(means, "float64"), ops.cast(log_vars, "float64")
    precisions = ops.exp(-log_vars)
    quadratic = (ops.matmul(ops.square(flat), ops.transpose(precisions))
                 - 2.0 * ops.matmul(flat, ops.transpose(means * precisions))
                 + ops.sum(ops.square(means) * precisions, axis=-1))
    per_component = -0.5 * (quadratic + ops.sum(log_vars, axis=-1) + ops.cast(d, "float64") * _LOG_2PI)
    return ops.reshape(ops.cast(per_component, "float32"), (*ops.shape(z)[:-1], -1))


def standard_normal_log_prob(z):
    """log N(z; 0, I), summed over the last axis."""
    z = _f32(z)
    return ops.sum(-0.5 * (_LOG_2PI + ops.square(z)), axis=-1)


def importance_weighted_bound(log_weights):
    """The IWAE bound log (1/k) sum_i w_i from log weights `(k, batch)`, per example `(batch,)`.

    log w_i = log p(x, z_i) - log q(z_i | x) for z_i ~ q(z | x) (Burda et al., 2016, eq. 8); k = 1 is the ELBO.
    """
    log_weights = _f32(log_weights)
    k = ops.cast(ops.shape(log_weights)[0], "float32")
    return ops.logsumexp(log_weights, axis=0) - ops.log(k)


def dreg_encoder_surrogate(log_weights, log_weights_q_stopped):
    """-sum_i sg(w~_i^2) log w_i per example `(batch,)`: its gradient with respect to the encoder's weights is the
    doubly reparameterised estimator of the IWAE bound's (Tucker et al., 2019, eq. 5).

    `log_weights_q_stopped` `(k, batch)` are the log weights of the same reparameterised z_i with q's density
    evaluated at stopped parameters, so the encoder's weights reach them only through z_i; w~ are the normalised
    weights, softmax over the k samples of `log_weights`.
    """
    normalised = ops.stop_gradient(ops.softmax(_f32(log_weights), axis=0))
    return -ops.sum(ops.square(normalised) * _f32(log_weights_q_stopped), axis=0)


def mean_squared_error(x, x_hat):
    """Mean over pixels of (x - x_hat)^2, per example."""
    return _mean_per_example(ops.square(_f32(x) - _f32(x_hat)))


def squared_error(x, x_hat):
    """Sum over pixels of (x - x_hat)^2, per example: an autoencoder's reconstruction distance."""
    return _sum_per_example(ops.square(_f32(x) - _f32(x_hat)))


def discriminator_loss(prior_logits, code_logits):
    """Cross-entropy of a discriminator that tells draws of p(z) (label 1) from encoded codes (label 0).

    -log D(z_p) - log(1 - D(z_q)) per example, with D = sigmoid(logit), written
    as softplus(-logit_p) + softplus(logit_q), exact for any logit (Makhzani et
    al., *Adversarial Autoencoders*, 2016: the regularisation phase's
    discriminator update). Example i pairs the i-th prior draw with the i-th
    code.

    Args:
        prior_logits: tensor `(batch,)` or `(batch, 1)`: logits of draws of p(z).
        code_logits: tensor of the same shape: logits of the encoder's codes.

    Returns:
        Tensor `(batch,)` in nats.
    """
    return _sum_per_example(ops.softplus(-_f32(prior_logits)) + ops.softplus(_f32(code_logits)))


def generator_loss(code_logits):
    """-log D(z_q) per example: the encoder's loss for fooling the discriminator.

    The non-saturating form of Goodfellow et al. (2014), as in the adversarial
    autoencoder's generator update: softplus(-logit).

    Args:
        code_logits: tensor `(batch,)` or `(batch, 1)`: the discriminator's
            logits of the encoder's codes.

    Returns:
        Tensor `(batch,)` in nats.
    """
    return _sum_per_example(ops.softplus(-_f32(code_logits)))


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
    log-probability (nats), usable in a bound on discrete data.

    A bin's mass is a difference of two normal CDF values, which loses all
    precision in float32 where both are close to 1 or to 0. It is therefore
    computed in float64 and in log space, on the side of the mean where the
    CDF values are small: with standardised edges lo < hi, both below 0,
    log(Phi(hi) - Phi(lo)) = log Phi(hi) + log(1 - exp(log Phi(lo) - log Phi(hi)));
    bins above the mean are mirrored to below it, and a bin that holds the mean
    is 0.5 * (erf(hi / sqrt 2) - erf(lo / sqrt 2)), a sum of two terms of the
    same sign. Only where float64 cannot tell the two CDF values apart does the
    density at the bin's centre times its width stand in for the mass. The
    result is returned in float32.

    Args:
        x: tensor `(batch, ...)`, values k/(num_bins - 1) (checked by the callers:
            values off the grid get the mass of a bin around them, which is not a
            probability of the data).
        mean: tensor of the same shape.
        log_scale: tensor broadcastable to `x`: log standard deviation.
        num_bins: int. Number of levels (256 for 8-bit images).

    Returns:
        Tensor `(batch,)`.
    """
    x = ops.cast(x, "float64")
    mean = ops.cast(mean, "float64")
    log_scale = ops.broadcast_to(ops.cast(log_scale, "float64"), ops.shape(x))
    width = 1.0 / (num_bins - 1)
    inv = ops.exp(-log_scale)
    upper = (x + 0.5 * width - mean) * inv
    lower = (x - 0.5 * width - mean) * inv
    # Edge bins: one tail each.
    log_first = _log_ndtr(upper)
    log_last = _log_ndtr(-lower)
    # Interior bins, mirrored so that hi <= 0 unless the bin holds the mean.
    mirror = lower > 0
    hi = ops.where(mirror, -lower, upper)
    lo = ops.where(mirror, -upper, lower)
    holds_mean = hi > 0
    # Every branch gets safe inputs where it is not used, so that no inf or NaN
    # reaches a gradient through ops.where.
    hi_m, lo_m = ops.where(holds_mean, hi, 1.0), ops.where(holds_mean, lo, -1.0)
    log_middle = ops.log(0.5 * (ops.erf(hi_m / math.sqrt(2.0)) - ops.erf(lo_m / math.sqrt(2.0))))
    hi_t, lo_t = ops.where(holds_mean, -1.0, hi), ops.where(holds_mean, -2.0, lo)
    log_hi = _log_ndtr(hi_t)
    delta = _log_ndtr(lo_t) - log_hi  # < 0 unless float64 cannot resolve the bin
    resolved = delta < 0
    log_tail = log_hi + ops.log(-ops.expm1(ops.where(resolved, delta, -1.0)))
    centre = (x - mean) * inv
    log_density_times_width = -0.5 * _LOG_2PI - 0.5 * ops.square(centre) + ops.log(width * inv)
    log_interior = ops.where(holds_mean, log_middle, ops.where(resolved, log_tail, log_density_times_width))
    first, last = x < 0.5 * width, x > 1.0 - 0.5 * width
    log_p = ops.where(first, log_first, ops.where(last, log_last, log_interior))
    return _f32(_sum_per_example(log_p))


def _log_ndtr(t):
    # log Phi(t), accurate far into the lower tail, where log(Phi(t)) would underflow to -inf.
    import tensorflow_probability as tfp

    t = ops.convert_to_tensor(t)
    return tfp.distributions.Normal(ops.zeros((), t.dtype), ops.ones((), t.dtype)).log_cdf(t)
