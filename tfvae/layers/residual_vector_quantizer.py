"""Residual vector quantisation: several codebooks, each quantising what the ones before it left."""

import keras
import tensorflow as tf
from keras import ops

from tfvae._checks import check_int, check_seed
from tfvae._input_checks import check_lookup_indices
from tfvae.layers.quantizer import Quantizer
from tfvae.layers.vector_quantizer import COMMITMENT_COST, DECAY, VectorQuantizer
from tfvae.layers.vector_quantizer_ema import VectorQuantizerEMA


@keras.saving.register_keras_serializable(package="tfvae")
class ResidualVectorQuantizer(Quantizer):
    """Residual VQ (Zeghidour et al., *SoundStream*, 2021; Lee et al., *RQ-VAE*, 2022).

    Level 1 quantises the input z with its codebook; level l quantises the
    residual r_l = z - (q_1 + ... + q_{l-1}); the output is q_1 + ... + q_D
    with a straight-through gradient, and each position gets D indices, one per
    level, in `(..., num_quantizers)`. Each level is a `VectorQuantizer` (or,
    with `quantizer="ema"`, a `VectorQuantizerEMA`) with its own codebook, or
    one codebook for all levels with `shared_codebook=True`; the loss is the
    sum of the levels' codebook and commitment terms on their residuals.

    **Quantizer dropout** (SoundStream, section 3.3): when training, each
    example uses only its first n levels, n drawn uniformly from 1 to D per
    example and step; the later levels add nothing to its output or loss and
    do not count in their statistics. One model then serves D bit rates:
    `lookup(indices[..., :n])` decodes from the first n levels.

    Args:
        num_quantizers: int >= 1. D, the number of levels.
        num_embeddings: int >= 2. K, the codes of each level.
        embedding_dim: int >= 1. The inputs' last axis.
        quantizer: "ema" or "vq": the levels' kind.
        shared_codebook: bool. One codebook for every level.
        quantizer_dropout: bool. Train on a random prefix of the levels.
        commitment_cost: float. The levels' commitment weight.
        decay: float. The levels' moving-average decay ("ema" only).
        dead_code_steps: int or None. The levels' dead-code restarts.
        seed: int or None. Seeds the levels' restarts and the dropout's draws.
        **kwargs: `Quantizer` arguments (`return_indices`) and base layer arguments; `dtype` defaults
            to float32.

    Call arguments:
        inputs: float tensor `(..., embedding_dim)`, any rank >= 2.
        training: bool. Statistics, EMA codebooks and dropout only when True.

    Returns:
        The quantised tensor, shaped like `inputs` (float32).

    Example:

    >>> import numpy as np, tfvae
    >>> rvq = tfvae.layers.ResidualVectorQuantizer(num_quantizers=4, num_embeddings=256, embedding_dim=8)
    >>> z = np.random.default_rng(0).normal(size=(2, 5, 5, 8)).astype("float32")
    >>> quantized = rvq(z)  # builds the levels' codebooks
    >>> codes = rvq.get_code_indices(z)
    >>> tuple(codes.shape)
    (2, 5, 5, 4)
    >>> bool(np.allclose(rvq.lookup(codes), quantized, atol=1e-5))
    True
    """

    def __init__(self, num_quantizers, num_embeddings, embedding_dim, quantizer="ema", shared_codebook=False,
                 quantizer_dropout=False, commitment_cost=COMMITMENT_COST, decay=DECAY, dead_code_steps=None,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_quantizers = check_int(num_quantizers, "num_quantizers", 1)
        self.num_embeddings = check_int(num_embeddings, "num_embeddings", 2)
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", 1)
        if quantizer not in ("ema", "vq"):
            raise ValueError(f"`quantizer` must be 'ema' or 'vq'; received quantizer={quantizer!r}.")
        self.quantizer = quantizer
        self.shared_codebook = bool(shared_codebook)
        self.quantizer_dropout = bool(quantizer_dropout)
        self.commitment_cost = commitment_cost
        self.decay = decay
        self.dead_code_steps = dead_code_steps
        self.seed = check_seed(seed)

        def level(i):
            args = dict(commitment_cost=commitment_cost, dead_code_steps=dead_code_steps,
                        seed=None if seed is None else seed + i, name=f"level_{i}")
            if quantizer == "ema":
                return VectorQuantizerEMA(num_embeddings, embedding_dim, decay=decay, **args)
            return VectorQuantizer(num_embeddings, embedding_dim, **args)

        first = level(0)
        self.levels = [first if shared_codebook else (first if i == 0 else level(i))
                       for i in range(self.num_quantizers)]

    def build(self, input_shape):
        for q in self.levels:
            if not q.built:
                q.build(input_shape)
        self.dropout_step = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                            aggregation="only_first_replica", name="dropout_step")

    def _levels_used(self, batch):
        """Per example, how many levels it trains with: uniform in 1..D, the same draws on every replica's share
        of one step (keyed by the step; each replica takes its own examples' draws by their position)."""
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32), tf.cast(self.dropout_step, tf.int32)])
        ctx = tf.distribute.get_replica_context()
        offset = 0 if ctx is None else ctx.replica_id_in_sync_group * 1_000_003
        seed = seed + tf.stack([tf.constant(0), tf.cast(offset, tf.int32)])
        self.dropout_step.assign_add(1)
        return tf.random.stateless_uniform((batch,), seed, 1, self.num_quantizers + 1, dtype=tf.int32)

    def quantize_details(self, inputs, training=False):
        """`{"quantized", "indices", "loss", "levels_loss"}`: the sum of the levels' codewords (straight-through
        gradient), int32 indices `(..., num_quantizers)`, the loss per example `(batch,)` and each level's
        `(batch, num_quantizers)`. With `quantizer_dropout` and `training`, also "levels_used" `(batch,)`."""
        self._check_width(inputs)
        z = ops.cast(inputs, "float32")
        batch = ops.shape(z)[0]
        used = self._levels_used(batch) if (training and self.quantizer_dropout) else None
        residual, total = z, ops.zeros_like(z)
        indices, level_losses = [], []
        trailing = (1,) * (len(z.shape) - 1)
        for i, q in enumerate(self.levels):
            mask = None if used is None else ops.cast(used > i, "float32")
            details = q.quantize_details(residual, training=training, mask=mask)
            codeword = ops.stop_gradient(details["quantized"])
            if mask is not None:
                codeword = codeword * ops.reshape(mask, (batch, *trailing))
            total = total + codeword
            residual = residual - codeword
            indices.append(details["indices"])
            level_losses.append(details["loss"] if mask is None else details["loss"] * mask)
        levels_loss = ops.stack(level_losses, axis=1)
        out = {"quantized": z + ops.stop_gradient(total - z), "indices": ops.stack(indices, axis=-1),
               "loss": ops.sum(levels_loss, axis=1), "levels_loss": levels_loss}
        if used is not None:
            out["levels_used"] = used
        return out

    def get_code_indices(self, inputs):
        """Int32 indices `(*inputs.shape[:-1], num_quantizers)`: level by level on the residuals."""
        self._check_width(inputs)
        residual = ops.cast(inputs, "float32")
        indices = []
        for q in self.levels:
            codes = q.get_code_indices(residual)
            residual = residual - q.lookup(codes)
            indices.append(codes)
        return ops.stack(indices, axis=-1)

    def lookup(self, indices):
        """The sum of the codewords of int `indices` `(..., n)`, n <= num_quantizers: the first n levels'."""
        indices = ops.convert_to_tensor(indices)
        depth = indices.shape[-1]
        if depth is None or not 1 <= depth <= self.num_quantizers:
            raise ValueError(f"ResidualVectorQuantizer.lookup takes indices (..., n) with 1 <= n <= "
                             f"{self.num_quantizers}; received shape {tuple(indices.shape)}.")
        indices = check_lookup_indices(indices, self.num_embeddings)
        return sum(q.lookup(indices[..., i]) for i, q in enumerate(self.levels[:depth]))

    def indices_shape(self, input_shape):
        """One index per level at each position: `(*input_shape[:-1], num_quantizers)`."""
        return (*tuple(input_shape[:-1]), self.num_quantizers)

    def get_config(self):
        return {**super().get_config(), "num_quantizers": self.num_quantizers,
                "num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "quantizer": self.quantizer, "shared_codebook": self.shared_codebook,
                "quantizer_dropout": self.quantizer_dropout, "commitment_cost": self.commitment_cost,
                "decay": self.decay, "dead_code_steps": self.dead_code_steps, "seed": self.seed}
