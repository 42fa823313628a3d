"""A second stochastic layer as the VAE's prior: z2 ~ N(0, I), z1 ~ p(z1 | z2), with q(z2 | z1) to infer z2."""

import keras
import tensorflow as tf
from keras import ops

from tfvae import losses
from tfvae.models import _signatures
from tfvae.models.gaussian_prior import _shape


def _split(out):
    mean, log_var = ops.split(ops.cast(out, "float32"), 2, axis=-1)
    return mean, log_var


class HierarchicalPrior:
    """The top of a two-stochastic-layer VAE (the IWAE paper's architecture, Burda et al., 2016, section 5):
    p(z2) = N(0, I), p(z1 | z2) = N(mu(z2), diag sigma^2(z2)), and the inference network q(z2 | z1).

    p(z1) itself has no closed form: `log_prob(z1)` is the one-sample estimate
    log p(z1 | z2) + log p(z2) - log q(z2 | z1) with z2 ~ q(z2 | z1), so that the
    VAE's ELBO and importance weights become the two-layer model's exactly:
    log w = log p(x | z1) + log p(z1 | z2) + log p(z2) - log q(z1 | x) - log q(z2 | z1).

    Args:
        up: callable `z1 (n, D1) -> (n, 2 D2)`: q(z2 | z1)'s mean and log-variance.
        down: callable `z2 (n, D2) -> (n, 2 D1)`: p(z1 | z2)'s mean and log-variance.
        second_latent_dim: int. D2.
        seed_generator: `keras.random.SeedGenerator` of the training draws.
    """

    num_classes = None

    def __init__(self, up, down, second_latent_dim, seed_generator):
        self._up, self._down = up, down
        self.second_latent_dim = second_latent_dim
        self._seed_generator = seed_generator

    def _normal(self, shape, seed):
        if seed is None:
            return keras.random.normal(shape, seed=self._seed_generator)
        if isinstance(seed, (int, keras.random.SeedGenerator)):
            return keras.random.normal(shape, seed=seed)
        return tf.random.stateless_normal(shape, seed)  # a stateless seed tensor (log_likelihood)

    def log_prob(self, z, labels=None, seed=None):
        """The estimate of log p(z1) at flattened latents `(..., D1)`: `(...)`; `seed` None draws from the
        training stream, an int or a stateless seed tensor gives fixed draws."""
        z = ops.cast(z, "float32")
        lead = ops.shape(z)[:-1]
        flat = ops.reshape(z, (-1, ops.shape(z)[-1]))
        mean2, log_var2 = _split(self._up(flat))
        z2 = mean2 + ops.exp(0.5 * log_var2) * self._normal(ops.shape(mean2), seed)
        mean1, log_var1 = _split(self._down(z2))
        estimate = (losses.diagonal_gaussian_log_prob(flat, mean1, log_var1) + losses.standard_normal_log_prob(z2)
                    - losses.diagonal_gaussian_log_prob(z2, mean2, log_var2))
        return ops.reshape(estimate, lead)

    def kl(self, mean, log_var, labels, z, seed=None):
        """log q(z1 | x) - (the estimate of log p(z1)) at the draw `z`, per example."""
        batch = ops.shape(mean)[0]
        flat = [ops.reshape(ops.cast(t, "float32"), (batch, -1)) for t in (z, mean, log_var)]
        return losses.diagonal_gaussian_log_prob(*flat) - self.log_prob(flat[0], seed=seed)

    def _draw(self, noise2, noise1):
        mean1, log_var1 = _split(self._down(noise2))
        return mean1 + ops.exp(0.5 * log_var1) * noise1

    def sample_latents(self, n, latent_shape, seed, labels, who):
        """`(z1, None)`: ancestral draws z2 ~ N(0, I), z1 ~ p(z1 | z2)."""
        if labels is not None:
            raise ValueError(f"{who}: a model with two stochastic layers has no classes and takes no labels; "
                             f"received labels={labels!r}.")
        shape = _shape(latent_shape)
        dims = 1
        for d in shape:
            dims *= d
        seeds = keras.random.SeedGenerator(seed)
        z1 = self._draw(keras.random.normal((n, self.second_latent_dim), seed=seeds),
                        keras.random.normal((n, dims), seed=seeds))
        return ops.reshape(z1, (n, *shape)), None

    def serving_functions(self, decode, latent_shape):
        """`sample` (one int64 seed per image) and `sample_from_noise` (N(0, I) noise `(D2 + D1)` per image: z2's
        first, then z1's)."""
        shape = _shape(latent_shape)
        dims = 1
        for d in shape:
            dims *= d
        top = self.second_latent_dim

        def sample_from_noise(noise):
            z1 = self._draw(*tf.split(noise, [top, dims], axis=1))
            return decode(tf.reshape(z1, [-1, *shape]), None)

        def sample(seed):
            return sample_from_noise(_signatures.per_seed(seed, [top + dims], "normal"))

        return {
            "sample": _signatures.signature(sample, [_signatures.spec((None,), "int64", "seed")]),
            "sample_from_noise": _signatures.signature(
                sample_from_noise, [_signatures.spec((None, top + dims), "float32", "noise")]),
        }
