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
