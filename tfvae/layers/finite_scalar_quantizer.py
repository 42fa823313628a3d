"""Finite scalar quantisation: a fixed grid per dimension instead of a learned codebook."""

import math

import keras
import numpy as np
from keras import ops

from tfvae._input_checks import check_lookup_indices
from tfvae.layers.quantizer import Quantizer

# The bound keeps a rounded value strictly inside the grid's outermost levels.
_EPSILON = 1e-3


@keras.saving.register_keras_serializable(package="tfvae")
class FiniteScalarQuantizer(Quantizer):
    """FSQ (Mentzer et al., *Finite Scalar Quantization: VQ-VAE Made Simple*, 2023).

    Each of the d = len(levels) input dimensions is bounded to L_i levels and
    rounded to the nearest, with a straight-through gradient; the codes are the
    points of the product grid, normalised to [-1, 1], so the implicit codebook
    holds prod(levels) codes (levels (8, 5, 5, 5): 1,000) and every one of them
    is reachable. There is no codebook to learn, no codebook or commitment loss,
    and no dead code to restart. Each position's grid point is one integer
    index (mixed radix: the first dimension varies fastest), so a VQ-VAE's
    prior over indices works unchanged.

    The bound is f(z) = tanh(z + s) * h - o with h = (L - 1)(1 - eps) / 2,
    o = 0.5 for even L (then the levels are half-integers) and s = atanh(o / h),
    so f(0) lies on a level (for L = 2, s = 0: the two levels split the inputs
    by sign); round(f(z)) / floor(L / 2) is the output.

    The encoder before it should give outputs of order one: inputs within
    about 1 / (L - 1) of zero all round to the centre level, and a network
    whose outputs all do so learns nothing (its decoder sees a constant).
    `VQVAE.conv(..., quantizer="fsq")` normalises its encoder's last features
    for this reason.

    Args:
        levels: sequence of ints >= 2. Levels per dimension; the encoder's code
            size (`embedding_dim`) is their number.
        **kwargs: `Quantizer` arguments (`return_indices`) and base layer arguments; `dtype` defaults
            to float32.

    Call arguments:
        inputs: `(..., len(levels))`.
        training: ignored (the layer has no state).

    Returns:
        The quantised tensor, shaped like the input.

    Example:

    >>> import numpy as np, tfvae
    >>> fsq = tfvae.layers.FiniteScalarQuantizer((8, 5, 5, 5))
    >>> fsq.num_embeddings
    1000
    >>> codes = fsq.get_code_indices(np.zeros((2, 4), "float32"))
    >>> bool((fsq.lookup(codes).numpy() == fsq(np.zeros((2, 4), "float32")).numpy()).all())
    True
    """

    def __init__(self, levels, **kwargs):
        super().__init__(**kwargs)
        levels = tuple(levels) if isinstance(levels, (list, tuple)) else None
        if not levels or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 2
                                 for v in levels):
            raise ValueError(f"`levels` must be a sequence of ints >= 2; received levels={levels!r}.")
        self.levels = tuple(int(v) for v in levels)
        self.embedding_dim = len(self.levels)
        self.num_embeddings = math.prod(self.levels)
        levels_f = np.array(self.levels, np.float32)
        self._half_levels = (levels_f - 1.0) * (1.0 - _EPSILON) / 2.0
        self._offsets = np.where(np.array(self.levels) % 2 == 0, 0.5, 0.0).astype(np.float32)
        # With L = 2 no level lies inside the bound's range, so f(0) cannot sit on one (the
        # shift would be atanh of more than 1, a NaN): no shift, and f(0) is the boundary
        # between the two levels, which then split the inputs by sign.
        ratio = self._offsets / self._half_levels
        self._shifts = np.arctanh(np.where(ratio < 1.0, ratio, 0.0)).astype(np.float32)
        self._half_width = (np.array(self.levels) // 2).astype(np.float32)
        self._basis = np.cumprod([1, *self.levels[:-1]]).astype(np.int32)

    def _rounded(self, inputs):
        """Integer grid values in [-floor(L/2), ceil(L/2) - 1] (float32), with their straight-through inputs."""
        z = ops.cast(inputs, "float32")
        bounded = ops.tanh(z + self._shifts) * self._half_levels - self._offsets
        return bounded, ops.round(bounded)

    def quantize_details(self, inputs, training=False):
        """`{"quantized", "indices", "loss"}`: the normalised grid point (straight-through gradient), its int32
        index per position and a zero loss per example (FSQ has no auxiliary loss)."""
        self._check_width(inputs)
        bounded, rounded = self._rounded(inputs)
        quantized = (bounded + ops.stop_gradient(rounded - bounded)) / self._half_width
        return {"quantized": quantized, "indices": self._index(rounded),
                "loss": ops.zeros((ops.shape(inputs)[0],), "float32")}

    def _index(self, rounded):
        digits = ops.cast(rounded + self._half_width, "int32")
        return ops.sum(digits * self._basis, axis=-1)

    def get_code_indices(self, inputs):
        """Int32 index of each position's grid point, shape `inputs.shape[:-1]`."""
        self._check_width(inputs)
        return self._index(self._rounded(inputs)[1])

    def lookup(self, indices):
        """The normalised grid points of int `indices`: shape `(*indices.shape, len(levels))`."""
        indices = check_lookup_indices(indices, self.num_embeddings)
        digits = (indices[..., None] // self._basis) % np.array(self.levels, np.int32)
        return (ops.cast(digits, "float32") - self._half_width) / self._half_width

    def get_config(self):
        return {**super().get_config(), "levels": list(self.levels)}
