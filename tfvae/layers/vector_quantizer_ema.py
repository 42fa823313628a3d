"""The VQ-VAE paper's codebook updated by exponential moving averages (its appendix A.1)."""

import keras
import numpy as np
from keras import ops

from tfvae._checks import check_real
from tfvae.layers.vector_quantizer import COMMITMENT_COST, DECAY, REPLICA_WRITTEN, VectorQuantizer


@keras.saving.register_keras_serializable(package="tfvae")
class VectorQuantizerEMA(VectorQuantizer):
    """Vector quantiser whose codebook follows exponential moving averages.

    The codebook update of van den Oord et al. (2017), appendix A.1, with
    Laplace-smoothed cluster sizes. For each training batch, with n_i the number
    of vectors assigned to code i and s_i their sum (both summed over replicas
    under `tf.distribute`):

        N_i <- decay * N_i + (1 - decay) * n_i
        m_i <- decay * m_i + (1 - decay) * s_i
        N~_i = (N_i + epsilon) / (sum_j N_j + K * epsilon) * sum_j N_j
        e_i <- m_i / N~_i

    The state starts as if each code had been seen once at its initial value
    (N_i = 1, m_i = e_i), so an unused code keeps its value instead of collapsing
    to zero. The codebook gets no gradient; only the commitment term
    `commitment_cost * ||z - sg(z_q)||^2` is a loss. EMA state is non-trainable
    and changes only when `training=True`; restarted codes get N_i = 1, m_i = e_i.

    Args:
        num_embeddings: as in `VectorQuantizer`.
        embedding_dim: as in `VectorQuantizer`.
        commitment_cost: as in `VectorQuantizer`.
        decay: float in [0, 1). The moving averages' decay.
        epsilon: float > 0. Laplace smoothing of the cluster sizes.
        **kwargs: the other arguments of `VectorQuantizer` (dead_code_steps,
            embeddings_initializer, return_indices, seed, ...) and base layer
            arguments.

    Call arguments, returns: as in `VectorQuantizer`.

    Example:

    >>> import keras, numpy as np, tfvae
    >>> vq = tfvae.VectorQuantizerEMA(num_embeddings=128, embedding_dim=16, decay=0.99)
    >>> z = keras.random.normal((8, 7, 7, 16), seed=0)
    >>> before = np.array(vq(z, training=False))  # builds the layer; inference leaves the codebook alone
    >>> z_q = vq(z, training=True)  # training moves the used codewords towards their inputs
    >>> bool(np.any(np.array(vq(z, training=False)) != before))
    True
    """

    _codebook_trainable = False

    def __init__(self, num_embeddings, embedding_dim, commitment_cost=COMMITMENT_COST, decay=DECAY, epsilon=1e-5,
                 **kwargs):
        super().__init__(num_embeddings, embedding_dim, commitment_cost, **kwargs)
        self.decay = check_real(decay, "decay", 0.0, 1.0, high_open=True)
        self.epsilon = check_real(epsilon, "epsilon", 0.0, np.inf, low_open=True, high_open=True)

    def build(self, input_shape):
        super().build(input_shape)
        self.ema_cluster_size = self.add_weight(
            shape=(self.num_embeddings,), initializer="ones", trainable=False,
            aggregation=REPLICA_WRITTEN, name="ema_cluster_size",
        )
        self.ema_embedding_sum = self.add_weight(
            shape=(self.num_embeddings, self.code_dim), initializer="zeros", trainable=False,
            aggregation=REPLICA_WRITTEN, name="ema_embedding_sum",
        )
        self.ema_embedding_sum.assign(self.embeddings)

    def _vq_loss(self, codebook_loss, commitment_loss):
        return self.commitment_cost * commitment_loss

    def _update_codebook(self, counts, sums):
        d = self.decay
        size = d * self.ema_cluster_size + (1.0 - d) * counts
        total = d * self.ema_embedding_sum + (1.0 - d) * sums
        n = ops.sum(size)
        smoothed = (size + self.epsilon) / (n + self.num_embeddings * self.epsilon) * n
        self.ema_cluster_size.assign(size)
        self.ema_embedding_sum.assign(total)
        self.embeddings.assign(total / smoothed[:, None])

    def _reset_codes(self, dead, new_embeddings):
        self.ema_cluster_size.assign(ops.where(dead, 1.0, self.ema_cluster_size))
        self.ema_embedding_sum.assign(ops.where(dead[:, None], new_embeddings, self.ema_embedding_sum))

    def get_config(self):
        return {**super().get_config(), "decay": self.decay, "epsilon": self.epsilon}
