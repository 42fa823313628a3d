"""The reparameterised Gaussian sample z = mean + sigma * eps."""

import keras
import numpy as np
from keras import ops

from tfvae._checks import check_seed


@keras.saving.register_keras_serializable(package="tfvae")
class GaussianSampler(keras.layers.Layer):
    """Draws z = mean + exp(0.5 * log_var) * eps with eps ~ N(0, I).

    The reparameterisation trick of Kingma & Welling, *Auto-Encoding Variational
    Bayes* (2014): the noise is an input-independent draw, so gradients flow to
    `mean` (identity) and `log_var` (0.5 * sigma * eps). The noise comes from a
    `keras.random.SeedGenerator`, so a layer built with a seed draws the same
    sequence of samples in every run.

    Args:
        seed: int or None. Seed of the layer's `SeedGenerator`; None draws a
            random one.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: list `[mean, log_var]`, two tensors of the same shape
            `(batch, ..., latent_dim)`.
        seed: int or None. None draws from the layer's own stream (training);
            an int draws the noise from that seed alone and leaves the stream
            untouched, so that evaluation neither changes what training draws
            next nor varies from call to call.

    Returns:
        A tensor of the shape of `mean`: one sample per row. The layer samples
        whether or not it is training: a model that wants the posterior mean at
        inference uses `mean` itself.

    Example:

    >>> import keras, tfvae
    >>> sampler = tfvae.GaussianSampler(seed=1)
    >>> mean, log_var = keras.ops.zeros((4, 2)), keras.ops.zeros((4, 2))
    >>> z = sampler([mean, log_var])  # mean + exp(log_var / 2) * eps
    >>> tuple(z.shape)
    (4, 2)
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = check_seed(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, seed=None):
        mean, log_var = inputs
        if tuple(mean.shape) != tuple(log_var.shape):
            raise ValueError(
                "GaussianSampler expects mean and log_var of the same shape; received "
                f"mean.shape={tuple(mean.shape)}, log_var.shape={tuple(log_var.shape)}."
            )
        eps = self._noise(ops.shape(mean), mean.dtype, self.seed_generator if seed is None else seed)
        return mean + ops.exp(0.5 * log_var) * eps

    def _noise(self, shape, dtype, seed):
        import tensorflow as tf

        ctx = tf.distribute.get_replica_context()
        if ctx is None or ctx.num_replicas_in_sync == 1:
            return keras.random.normal(shape, dtype=dtype, seed=seed)
        # Under tf.distribute every replica draws the global batch's noise and keeps
        # its own rows: replicas get independent noise, and training matches one
        # device on the same global batch draw for draw. Replicas' batches can differ
        # in size (a short last batch), so each one's first row is the sum of the
        # sizes of the replicas before it.
        replicas, rid = ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group
        n = tf.cast(shape[0], tf.int32)
        sizes = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.one_hot(rid, replicas, dtype=tf.int32) * n)
        start = tf.reduce_sum(sizes[:rid])
        noise = keras.random.normal((tf.reduce_sum(sizes), *shape[1:]), dtype=dtype, seed=seed)
        return noise[start : start + n]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    # Keras does not save a SeedGenerator's state in .keras files; this layer
    # does, so that a checkpointed model resumes its noise sequence exactly.
    def save_own_variables(self, store):
        store["seed_generator_state"] = np.asarray(self.seed_generator.state.numpy())

    def load_own_variables(self, store):
        if "seed_generator_state" in store.keys():
            self.seed_generator.state.assign(store["seed_generator_state"][...])

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
