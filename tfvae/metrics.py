"""Codebook-health metrics of vector-quantised models.

Both metrics accumulate per-code counts over everything they see until reset
(Keras resets metrics at the start of each epoch and of each evaluation), so
`fit` reports the usage of the whole epoch, not a batch average. Their count
variables are summed across replicas under `tf.distribute`.
"""

import keras
import tensorflow as tf
from keras import ops

__all__ = ["CodebookPerplexity", "CodebookUsage"]


class _CodeCounts(keras.metrics.Metric):
    def __init__(self, num_embeddings, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_embeddings = int(num_embeddings)
        self.counts = self.add_variable(
            shape=(self.num_embeddings,), initializer="zeros", aggregation="sum", name="counts"
        )

    def update_state(self, indices, sample_weight=None):
        flat = tf.reshape(tf.cast(indices, tf.int32), [-1])
        self.counts.assign_add(
            tf.math.unsorted_segment_sum(tf.ones_like(flat, tf.float32), flat, self.num_embeddings)
        )

    def reset_state(self):
        self.counts.assign(ops.zeros((self.num_embeddings,)))

    def get_config(self):
        return {**super().get_config(), "num_embeddings": self.num_embeddings}


@keras.saving.register_keras_serializable(package="tfvae")
class CodebookUsage(_CodeCounts):
    """Fraction of the `num_embeddings` codes used at least once since the last reset.

    Args:
        num_embeddings: int. Codebook size K.
        name: str. Metric name.

    Call arguments (`update_state`): integer code indices of any shape.

    Returns:
        A scalar in [0, 1]; 1 means every code was chosen at least once.
    """

    def __init__(self, num_embeddings, name="codebook_usage", **kwargs):
        super().__init__(num_embeddings, name=name, **kwargs)

    def result(self):
        return ops.mean(ops.cast(self.counts > 0, "float32"))


@keras.saving.register_keras_serializable(package="tfvae")
class CodebookPerplexity(_CodeCounts):
    """exp(entropy) of the codes' empirical distribution since the last reset.

    Ranges from 1 (one code used) to K (all codes used equally often): the
    effective number of codes, as reported in the VQ-VAE literature. Computed
    from counts accumulated over the epoch, which is at least the average of
    per-batch perplexities.

    Args:
        num_embeddings: int. Codebook size K.
        name: str. Metric name.
    """

    def __init__(self, num_embeddings, name="perplexity", **kwargs):
        super().__init__(num_embeddings, name=name, **kwargs)

    def result(self):
        total = ops.sum(self.counts)
        p = self.counts / ops.maximum(total, 1.0)
        entropy = -ops.sum(ops.where(p > 0, p * ops.log(ops.maximum(p, 1e-30)), 0.0))
        return ops.exp(entropy)
