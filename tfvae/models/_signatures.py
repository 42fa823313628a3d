"""Helpers of the models' `serving_functions`: named, typed, batch-dynamic tf.functions.

A signature's inputs carry names (`images`, `seed`, `label`, ...) so that
callers, TF Serving clients among them, pass them by name.
"""

import inspect

import tensorflow as tf


def spec(shape, dtype, name):
    return tf.TensorSpec(shape, dtype, name=name)


def signature(impl, specs):
    """`impl(*tensors)` as a `tf.function` on `specs` whose parameters carry the inputs' names."""

    def fn(*args):
        return impl(*args)

    fn.__signature__ = inspect.Signature(
        [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for s in specs]
    )
    fn.__name__ = impl.__name__
    return tf.function(fn, input_signature=specs, autograph=False)


def per_seed(seeds, shape, dist):
    """One stateless draw of `shape` per int64 seed: `(len(seeds), *shape)`, "normal" or "uniform"."""

    def one(seed):
        pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        if dist == "normal":
            return tf.random.stateless_normal(shape, seed=pair)
        return tf.random.stateless_uniform(shape, seed=pair)

    return tf.map_fn(one, seeds, fn_output_signature=tf.float32)


def gaussian_prior_samplers(decode, latent_dim, prior_mean=None, conditional=False):
    """The `sample` and `sample_from_noise` signatures of a model with a Gaussian prior N(mu, I).

    Args:
        decode: `decode(z, labels) -> {"images": ...}` for latents `(batch, latent_dim)`.
        latent_dim: int.
        prior_mean: `prior_mean(labels) -> (batch, latent_dim)` or None (mu = 0). It may return None
            for N(0, I) too.
        conditional: whether both signatures take an int32 `label` per image.

    Returns:
        `{"sample": one int64 seed per image -> images, "sample_from_noise": N(0, I) noise -> images}`.
    """
    label = [spec((None,), tf.int32, "label")] if conditional else []

    def sample_from_noise(noise, *labels):
        labels = labels[0] if labels else None
        shift = None if prior_mean is None or labels is None else prior_mean(labels)
        return decode(noise if shift is None else noise + shift, labels)

    def sample(seed, *labels):
        return sample_from_noise(per_seed(seed, [latent_dim], "normal"), *labels)

    return {
        "sample": signature(sample, [spec((None,), tf.int64, "seed"), *label]),
        "sample_from_noise": signature(sample_from_noise, [spec((None, latent_dim), tf.float32, "noise"), *label]),
    }
