"""The Gaussian prior the VAE and the adversarial autoencoder share: N(0, I), or N(mu_y, I) per class."""

import keras
from keras import ops

from tfvae import losses
from tfvae._input_checks import check_sample_labels
from tfvae.models import _signatures


def _shape(latent_shape):
    """A latent's shape as a tuple (an int is the size of a vector latent)."""
    return (int(latent_shape),) if isinstance(latent_shape, int) else tuple(latent_shape)


class GaussianPrior:
    """p(z) = N(0, I), or p(z|y) = N(mu_y, I) with one mean per class: what training, `sample` and the
    exported `sample` / `sample_from_noise` signatures of a model draw from, written once.

    The means are the model's (a learned weight of the VAE with `conditioning="prior_mean"`, fixed
    numbers in the adversarial autoencoder's config), read through `means` when used, so that the
    component owns no state and the models' weights and `.keras` files stay as they are.

    Args:
        num_classes: int or None. A conditional model's number of classes: `sample` then takes labels
            (an int, ints `(n,)`, or None for the classes in turn); an unconditional model's prior refuses
            labels.
        means: callable `() -> (num_classes, latent_dim)` tensor or array, or None: mu_y = 0 for every
            class (a conditional model whose networks see the label, with the prior N(0, I)).
    """

    def __init__(self, num_classes=None, means=None):
        if means is not None and num_classes is None:
            raise ValueError("Class means need `num_classes`; received means with num_classes=None.")
        self.num_classes = num_classes
        self._means = means

    def mean(self, labels):
        """mu_y per label `(batch, latent_dim)`, or None where the prior's mean is 0."""
        if self._means is None or labels is None:
            return None
        return ops.take(ops.convert_to_tensor(self._means(), "float32"), ops.cast(labels, "int32"), axis=0)

    def shift(self, noise, labels):
        """N(0, I) noise `(batch, latent_dim)` moved to p(z|y): noise + mu_y."""
        mu = self.mean(labels)
        return noise if mu is None else noise + mu

    def kl(self, mean, log_var, labels, z=None, seed=None):
        """KL(N(mean, exp(log_var)) || p(z|y)) per example, in closed form (the draw `z` is not needed)."""
        return losses.gaussian_kl(mean, log_var, self.mean(labels))

    def log_prob(self, z, labels, seed=None):
        """log p(z|y) of flattened latents, summed over the last axis: a batch `(b, D)` or importance samples
        `(k, b, D)`, D the number of latent dimensions."""
        mu = self.mean(labels)
        if mu is not None:
            mu = ops.reshape(mu, (ops.shape(mu)[0], -1))
        return losses.standard_normal_log_prob(z if mu is None else z - mu)

    def draws_like(self, codes, labels, sampler, seed=None):
        """One draw of p(z|y) per row of `codes` in training or evaluation, float32.

        `sampler` is the model's `GaussianSampler` (its own seed stream; `seed` as in its call, a fixed seed
        for evaluation).
        """
        zeros = ops.zeros_like(codes)
        return self.shift(ops.cast(sampler([zeros, zeros], seed=seed), "float32"), labels)

    def sample_latents(self, n, latent_shape, seed, labels, who):
        """`(z, labels)`: `n` latents of `latent_shape` (an int: vectors) drawn from the prior for `sample`, and
        the checked labels.

        Raises:
            ValueError: labels for an unconditional model, or labels a conditional one cannot take.
        """
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(f"{who}: the prior of a model without classes is N(0, I) and takes no labels; "
                                 f"received labels={labels!r}.")
        else:
            labels = check_sample_labels(labels, n, self.num_classes, who)
        return self.shift(keras.random.normal((n, *_shape(latent_shape)), seed=seed), labels), labels

    def serving_functions(self, decode, latent_shape):
        """The `sample` and `sample_from_noise` signatures.

        Args:
            decode: `decode(z, labels) -> {"images": ...}` for latents `(batch, *latent_shape)`.
            latent_shape: int or tuple: the shape of one latent.

        Returns:
            `{"sample": one int64 seed per image -> images, "sample_from_noise": N(0, I) noise -> images}`,
            each taking an int32 `label` per image too for a conditional model.
        """
        label = [_signatures.spec((None,), "int32", "label")] if self.num_classes is not None else []
        latent_shape = _shape(latent_shape)

        def sample_from_noise(noise, *labels):
            labels = labels[0] if labels else None
            return decode(self.shift(noise, labels), labels)

        def sample(seed, *labels):
            return sample_from_noise(_signatures.per_seed(seed, list(latent_shape), "normal"), *labels)

        return {
            "sample": _signatures.signature(sample, [_signatures.spec((None,), "int64", "seed"), *label]),
            "sample_from_noise": _signatures.signature(
                sample_from_noise, [_signatures.spec((None, *latent_shape), "float32", "noise"), *label]),
        }
