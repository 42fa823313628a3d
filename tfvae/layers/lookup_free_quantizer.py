"""Lookup-free quantisation: the sign of each dimension, an implicit codebook of 2^d codes."""

import keras
import numpy as np
from keras import ops

from tfvae._checks import check_int, check_positive_number, check_real
from tfvae._input_checks import check_lookup_indices
from tfvae.layers.quantizer import Quantizer
from tfvae.layers.vector_quantizer import COMMITMENT_COST, replica_sum

# MAGVIT-v2's weights of the entropy penalty and of its codebook-entropy term, and the sharpness
# of the soft assignment the entropies are measured on (vector-quantize-pytorch's defaults too).
ENTROPY_WEIGHT = 0.1
DIVERSITY_WEIGHT = 1.0
INVERSE_TEMPERATURE = 100.0
# The batch codebook entropy needs one probability per (position, code): N x 2^d floats.
MAX_EMBEDDING_DIM = 16


@keras.saving.register_keras_serializable(package="tfvae")
class LookupFreeQuantizer(Quantizer):
    """LFQ (Yu et al., *Language Model Beats Diffusion: Tokenizer is Key to Visual Generation*, MAGVIT-v2, 2023).

    Each of the d input dimensions is quantised to its sign, q_i = +1 if
    z_i > 0 else -1, with a straight-through gradient; the implicit codebook is
    {-1, +1}^d (2^d codes, no lookup table and no codebook loss), and a
    position's code index is sum_i [q_i = +1] 2^i. The layer adds

        commitment_cost * ||z - sg(q)||^2
        + entropy_weight * (E[H(p(c | z))] - diversity_weight * H(E[p(c | z)]))

    (the squared error averaged over positions and dimensions; the entropies in
    nats per position), where p(c | z) is softmax over the codes of
    2 t z.c (t = `inverse_temperature`): each position should be sure of its
    code (low per-sample entropy) while the batch spreads over the whole
    codebook (high entropy of the batch-mean assignment, which is what keeps
    every code in use). p(c | z) factorises over dimensions,
    p(c_i = +1 | z_i) = sigmoid(4 t z_i), so the per-sample entropy is a sum
    of binary entropies; the batch-mean distribution does not factorise and is
    computed over all 2^d codes (N x 2^d floats for N positions, hence
    `embedding_dim` <= 16), summed over replicas under `tf.distribute`.
    Everything is computed in float32, also under a mixed-precision policy.

    Args:
        embedding_dim: int in [1, 16]. d, the code size; the codebook has 2^d codes.
        commitment_cost: float >= 0. Weight of the commitment term.
        entropy_weight: float >= 0. Weight of the entropy penalty (0 turns it off).
        diversity_weight: float >= 0. Weight of the batch codebook entropy inside it.
        inverse_temperature: float > 0. Sharpness t of the soft assignment.
        **kwargs: `Quantizer` arguments (`return_indices`) and base layer arguments; `dtype` defaults
            to float32.

    Call arguments:
        inputs: float tensor `(..., embedding_dim)`, any rank >= 2.
        training: ignored (the layer has no state).

    Returns:
        The quantised tensor in {-1, +1}, shaped like `inputs` (float32).

    Example:

    >>> import numpy as np, tfvae
    >>> lfq = tfvae.layers.LookupFreeQuantizer(embedding_dim=10)
    >>> lfq.num_embeddings
    1024
    >>> z = np.array([[0.3, -1.0, 2.0, -0.1, 0.2, 0.1, -0.5, 0.7, 0.9, -0.2]], "float32")
    >>> int(lfq.get_code_indices(z)[0])  # bits 0, 2, 4, 5, 7, 8 are set
    437
    >>> bool((lfq.lookup(lfq.get_code_indices(z)).numpy() == np.sign(z)).all())
    True
    """

    def __init__(self, embedding_dim, commitment_cost=COMMITMENT_COST, entropy_weight=ENTROPY_WEIGHT,
                 diversity_weight=DIVERSITY_WEIGHT, inverse_temperature=INVERSE_TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", 1, MAX_EMBEDDING_DIM)
        self.commitment_cost = check_real(commitment_cost, "commitment_cost", 0.0)
        self.entropy_weight = check_real(entropy_weight, "entropy_weight", 0.0)
        self.diversity_weight = check_real(diversity_weight, "diversity_weight", 0.0)
        self.inverse_temperature = check_positive_number(inverse_temperature, "inverse_temperature")
        self.num_embeddings = 2**self.embedding_dim
        self._powers = (2 ** np.arange(self.embedding_dim)).astype(np.int32)

    def _code_bits(self):
        """`(2^d, d)` float32: bit i of code k."""
        codes = np.arange(self.num_embeddings)[:, None]
        return ((codes // self._powers) % 2).astype(np.float32)

    def entropies(self, inputs):
        """`(per-example mean per-position entropy (batch,), batch codebook entropy ())` in nats."""
        z = ops.cast(inputs, "float32")
        a = 4.0 * self.inverse_temperature * z
        # Binary entropy of p = sigmoid(a): p softplus(-a) + (1 - p) softplus(a).
        p = ops.sigmoid(a)
        per_dim = p * ops.softplus(-a) + (1.0 - p) * ops.softplus(a)
        per_position = ops.sum(per_dim, axis=-1)
        sample_entropy = ops.mean(ops.reshape(per_position, (ops.shape(z)[0], -1)), axis=1)
        flat = ops.reshape(a, (-1, self.embedding_dim))
        bits = self._code_bits()
        log_p = ops.matmul(-ops.softplus(-flat), bits.T) + ops.matmul(-ops.softplus(flat), (1.0 - bits).T)
        prob_sum, count = replica_sum(ops.sum(ops.exp(log_p), axis=0), ops.cast(ops.shape(flat)[0], "float32"))
        mean_p = prob_sum / count
        codebook_entropy = -ops.sum(mean_p * ops.log(ops.maximum(mean_p, 1e-30)))
        return sample_entropy, codebook_entropy

    def quantize_details(self, inputs, training=False):
        """`{"quantized", "indices", "commitment_loss", "sample_entropy", "codebook_entropy", "loss"}`: the signs
        (straight-through gradient), their int32 index per position, and the terms of the loss, per example
        `(batch,)` except the batch's codebook entropy `()`."""
        self._check_width(inputs)
        z = ops.cast(inputs, "float32")
        q = ops.where(z > 0, 1.0, -1.0)
        commitment = ops.mean(ops.reshape(ops.square(z - ops.stop_gradient(q)), (ops.shape(z)[0], -1)), axis=1)
        loss = self.commitment_cost * commitment
        details = {"quantized": z + ops.stop_gradient(q - z), "indices": self._index(z), "commitment_loss": commitment}
        if self.entropy_weight > 0:
            sample_entropy, codebook_entropy = self.entropies(z)
            loss = loss + self.entropy_weight * (sample_entropy - self.diversity_weight * codebook_entropy)
            details.update(sample_entropy=sample_entropy, codebook_entropy=codebook_entropy)
        details["loss"] = loss
        return details

    def _index(self, z):
        return ops.sum(ops.cast(z > 0, "int32") * self._powers, axis=-1)

    def get_code_indices(self, inputs):
        """Int32 index of each position's code, shape `inputs.shape[:-1]`."""
        self._check_width(inputs)
        return self._index(ops.cast(inputs, "float32"))

    def lookup(self, indices):
        """The codes in {-1, +1} of int `indices`: shape `(*indices.shape, embedding_dim)`."""
        indices = check_lookup_indices(indices, self.num_embeddings)
        bits = (indices[..., None] // self._powers) % 2  # floor division and mod: TFLite builtins
        return ops.cast(bits, "float32") * 2.0 - 1.0

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim,
                "commitment_cost": self.commitment_cost, "entropy_weight": self.entropy_weight,
                "diversity_weight": self.diversity_weight, "inverse_temperature": self.inverse_temperature}
