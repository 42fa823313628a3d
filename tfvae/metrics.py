"""Codebook-health metrics of vector-quantised models, and bits per dimension.

The codebook metrics accumulate per-code counts over everything they see until reset
(Keras resets metrics at the start of each epoch and of each evaluation), so
`fit` reports the usage of the whole epoch, not a batch average. Their count
variables are summed across replicas under `tf.distribute`.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae import likelihoods

__all__ = ["CodebookPerplexity", "CodebookUsage", "bits_per_dim", "gaussian_kernel_mmd"]

def bits_per_dim(nats, images, likelihood, num_bins=None):
    """Nats per image as bits per dimension, for a likelihood that is a probability of these images.

    Bits per dimension compare models on discrete data only: a Bernoulli
    likelihood of binary images, or a discretised Gaussian of images on the
    `num_bins` levels of [0, 1]. A Gaussian density or a squared error has no
    such figure (on discrete data it is not a probability), and a Bernoulli
    likelihood of grey levels is not one either: those raise `ValueError`.

    Args:
        nats: float or array. -log p in nats per image.
        images: array `(n, ...)`: the images those nats were measured on.
        likelihood: a `tfvae.likelihoods` name or object (e.g. a model's
            `.likelihood`): "bernoulli" or "discretized_gaussian".
        num_bins: int or None. Levels of a discretised Gaussian given by name
            (None: 256); objects carry their own.

    Returns:
        `nats / (dims * ln 2)`, dims the number of values in one image.

    Example:

    >>> import numpy as np, tfvae
    >>> x = np.zeros((1, 8, 8, 1), "float32")
    >>> float(tfvae.metrics.bits_per_dim(64 * np.log(2.0), x, "bernoulli"))
    1.0
    """
    who = "bits_per_dim"
    if num_bins is not None:
        if likelihood != "discretized_gaussian":
            raise ValueError(f"{who}: num_bins goes with likelihood='discretized_gaussian'; received "
                             f"num_bins={num_bins!r} with likelihood={likelihood!r}.")
        likelihood = likelihoods.DiscretizedGaussian(num_bins)
    likelihood = likelihoods.get(likelihood, who=who)
    likelihood.check_data(images, who)  # refuses densities, distances and data they are no probability of
    dims = int(np.prod(np.shape(images)[1:]))
    return np.asarray(nats) / (dims * np.log(2.0))


def gaussian_kernel_mmd(x, y, bandwidth, paired=False):
    """Unbiased estimate of the squared maximum mean discrepancy between two samples.

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y) with the Gaussian kernel
    k(a, b) = exp(-||a - b||^2 / (2 bandwidth^2)), estimated by the U-statistic
    of Gretton et al., *A Kernel Two-Sample Test* (JMLR 2012, eq. 3): pairs of an
    example with itself are left out, so its expectation is MMD^2 whatever the
    sample sizes (it can be slightly negative when P = Q). Zero exactly when
    P = Q, for this characteristic kernel.

    Args:
        x: tensor `(n, d)`, n >= 2: a sample of P (e.g. encoded codes).
        y: tensor `(m, d)`, m >= 2: a sample of Q (e.g. draws of the prior).
        bandwidth: float > 0. The kernel's length scale (tfvae's models use
            sqrt(d), the scale of the distance between draws of N(0, I_d)).
        paired: bool. Whether `x[i]` and `y[i]` were drawn together (n = m),
            e.g. an example's code and a draw of the prior for that example's
            label: such pairs are not independent, so the cross term leaves
            them out too (the U-statistic over pairs of pairs, Gretton et al.
            eq. 3 with i != j throughout). Keeping them biases the estimate
            low when the two samples share a condition.

    Returns:
        Scalar float32 tensor.
    """
    x, y = ops.cast(x, "float32"), ops.cast(y, "float32")

    def mean_kernel(a, b, same):
        sq = (ops.sum(ops.square(a), axis=1)[:, None] + ops.sum(ops.square(b), axis=1)[None, :]
              - 2.0 * ops.matmul(a, ops.transpose(b)))
        k = ops.exp(-ops.maximum(sq, 0.0) / (2.0 * bandwidth**2))
        n, m = ops.cast(ops.shape(a)[0], "float32"), ops.cast(ops.shape(b)[0], "float32")
        if not same:
            return ops.sum(k) / (n * m)
        # Leave out the diagonal, the pairs (a_i, a_i).
        return (ops.sum(k) - ops.trace(k)) / (n * (n - 1.0))

    if paired and x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"gaussian_kernel_mmd(paired=True) takes samples of one size; received {x.shape[0]} "
                         f"and {y.shape[0]}.")
    return mean_kernel(x, x, True) + mean_kernel(y, y, True) - 2.0 * mean_kernel(x, y, paired)


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
    from the counts of the whole epoch (or evaluation), which is not the mean of
    per-batch perplexities and can be below it: one batch all on one code and
    one spread evenly over 100 codes give 19.45 together, against a mean of
    per-batch figures of 50.5.

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
