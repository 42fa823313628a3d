"""A learned mixture-of-Gaussians prior for the VAE: p(z) = sum_c pi_c N(z; mu_c, diag(sigma_c^2))."""

import keras
import tensorflow as tf
from keras import ops

from tfvae import losses
from tfvae.models import _signatures
from tfvae.models.gaussian_prior import _shape

# Keys the component draw of an exported `sample` apart from its noise draw (stateless draws, one key each).
_COMPONENT_KEY = 0x5DEECE66D


class MixturePrior:
    """p(z) = sum_c pi_c N(z; mu_c, diag(sigma_c^2)), K components whose weights, means and variances the VAE
    learns with the rest (the mixture prior of Tomczak & Welling, 2018, section 3.1), or, for the VampPrior, the
    encoder's posteriors of learned pseudo-inputs with equal weights (its section 3.2): the VAE says which.

    Its KL to q(z|x) has no closed form: the VAE uses the one-sample Monte Carlo estimate
    log q(z|x) - log p(z) at the z it decodes (unbiased for the KL, so the -ELBO stays unbiased), and
    `log_prob` in the importance-weighted bound. Same interface as `GaussianPrior`; no labels.

    Args:
        parameters: callable `() -> (logits (K,), means (K, D), log_vars (K, D))`: the model's weights, read
            when used.
    """

    num_classes = None

    def __init__(self, parameters):
        self._parameters = parameters

    def _mixture(self):
        logits, means, log_vars = (ops.convert_to_tensor(p, "float32") for p in self._parameters())
        return logits - ops.logsumexp(logits), means, log_vars

    def log_prob(self, z, labels=None, seed=None):
        """log p(z) of flattened latents `(..., D)`, summed over the last axis: `(...)`."""
        log_pi, means, log_vars = self._mixture()
        return ops.logsumexp(losses.diagonal_gaussian_component_log_probs(z, means, log_vars) + log_pi, axis=-1)

    def kl(self, mean, log_var, labels, z, seed=None):
        """log q(z|x) - log p(z) at the draw `z`, per example: the one-sample estimate of KL(q || p)."""
        batch = ops.shape(mean)[0]
        flat = [ops.reshape(ops.cast(t, "float32"), (batch, -1)) for t in (z, mean, log_var)]
        return losses.diagonal_gaussian_log_prob(*flat) - self.log_prob(flat[0])

    def _draw(self, noise, uniform):
        """Latents `(n, D)` from N(0, I) noise `(n, D)` and uniforms `(n,)`: the component by inverse CDF."""
        log_pi, means, log_vars = self._mixture()
        cdf = ops.cumsum(ops.exp(log_pi))
        # The component is the number of cumulative weights below u (the last is 1 up to rounding: excluded).
        component = ops.sum(ops.cast(cdf[None, :-1] <= uniform[:, None], "int32"), axis=1)
        return ops.take(means, component, axis=0) + ops.exp(0.5 * ops.take(log_vars, component, axis=0)) * noise

    def sample_latents(self, n, latent_shape, seed, labels, who):
        """`(z, None)`: `n` latents of `latent_shape` drawn from the mixture for `sample`."""
        if labels is not None:
            raise ValueError(f"{who}: a mixture prior has no classes and takes no labels; received labels={labels!r}.")
        shape = _shape(latent_shape)
        seeds = keras.random.SeedGenerator(seed)
        dims = 1
        for d in shape:
            dims *= d
        noise = keras.random.normal((n, dims), seed=seeds)
        uniform = keras.random.uniform((n,), seed=seeds)
        return ops.reshape(self._draw(noise, uniform), (n, *shape)), None

    def serving_functions(self, decode, latent_shape):
        """`sample` (one int64 seed per image) and `sample_from_noise` (N(0, I) `noise` and a `uniform` in [0, 1)
        per image that picks the component)."""
        shape = _shape(latent_shape)
        dims = 1
        for d in shape:
            dims *= d

        def sample_from_noise(noise, uniform):
            z = self._draw(tf.reshape(noise, [-1, dims]), uniform)
            return decode(tf.reshape(z, [-1, *shape]), None)

        def sample(seed):
            noise = _signatures.per_seed(seed, [dims], "normal")
            uniform = _signatures.per_seed(seed + _COMPONENT_KEY, [], "uniform")
            return sample_from_noise(noise, uniform)

        return {
            "sample": _signatures.signature(sample, [_signatures.spec((None,), "int64", "seed")]),
            "sample_from_noise": _signatures.signature(
                sample_from_noise, [_signatures.spec((None, *shape), "float32", "noise"),
                                    _signatures.spec((None,), "float32", "uniform")]),
        }
