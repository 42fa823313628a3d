"""Causally masked 2-D convolution for autoregressive image models."""

import keras
import numpy as np
from keras import ops

MASK_TYPES = ("A", "B", "V")


def causal_mask(kernel_height, kernel_width, mask_type):
    """The `(kh, kw)` 0/1 mask of a causal kernel centred at (kh // 2, kw // 2).

    "A": rows above the centre and, in the centre row, columns left of the
    centre (the first layer: a pixel never sees itself). "B": the same plus the
    centre (later layers). "V": every row up to and including the centre row (the
    vertical stack of gated PixelCNN, which is shifted down one row before use).
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"`mask_type` must be one of {MASK_TYPES}; received mask_type={mask_type!r}.")
    ci, cj = kernel_height // 2, kernel_width // 2
    mask = np.zeros((kernel_height, kernel_width), np.float32)
    mask[:ci] = 1.0
    if mask_type == "V":
        mask[ci] = 1.0
    else:
        mask[ci, :cj] = 1.0
        if mask_type == "B":
            mask[ci, cj] = 1.0
    return mask


def _all_ones(value):
    return all(v == 1 for v in (value if isinstance(value, (list, tuple)) else [value]))


@keras.saving.register_keras_serializable(package="tfvae")
class MaskedConv2D(keras.layers.Conv2D):
    """`Conv2D` that sees only the inputs before (i, j) in raster order.

    The masked convolution of van den Oord et al., *Pixel Recurrent Neural
    Networks* (2016): output (i, j) depends only on inputs that precede it in
    raster order ("A"), or on those and (i, j) itself ("B"). The kernel weight
    has the full `kernel_size` and is never modified, so optimisers,
    checkpoints and weight decay see an ordinary kernel; `call` convolves with
    its causal part only: the rows below the centre (and, for a one-row
    kernel, the columns right of it) are cropped away with matching one-sided
    padding instead of being multiplied by zeros, so no multiply-add is spent on
    them, and the mask multiplies only what is left of it (the centre row of a
    k x k "A"/"B" kernel). The result equals the convolution with the masked
    full kernel.

    Args:
        filters: int. Output channels.
        kernel_size: int or (int, int). Odd sizes only, so the centre is a pixel.
        mask_type: str. "A", "B" or "V" (see `causal_mask`).
        **kwargs: `keras.layers.Conv2D` arguments except `padding` (always
            "same") and `data_format` (always "channels_last").

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        Tensor `(batch, height, width, filters)`.

    Example:

    >>> import keras, tfvae
    >>> conv = tfvae.MaskedConv2D(64, 7, mask_type="A")
    >>> y = conv(keras.random.normal((2, 28, 28, 1), seed=0))
    >>> tuple(y.shape)
    (2, 28, 28, 64)
    """

    def __init__(self, filters, kernel_size, mask_type="B", **kwargs):
        if kwargs.pop("padding", "same") != "same":
            raise ValueError("MaskedConv2D needs padding='same' so that output (i, j) is centred on input (i, j).")
        if kwargs.get("data_format", "channels_last") != "channels_last":
            raise ValueError("MaskedConv2D supports data_format='channels_last' only.")
        if any(not _all_ones(kwargs.get(k, 1)) for k in ("strides", "dilation_rate")):
            raise ValueError("MaskedConv2D supports strides=1 and dilation_rate=1 only.")
        if mask_type not in MASK_TYPES:
            raise ValueError(f"`mask_type` must be one of {MASK_TYPES}; received mask_type={mask_type!r}.")
        super().__init__(filters, kernel_size, padding="same", **kwargs)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"`kernel_size` must be odd; received kernel_size={kernel_size!r}.")
        self.mask_type = mask_type

    def build(self, input_shape):
        super().build(input_shape)
        kh, kw = self.kernel_size
        mask = causal_mask(kh, kw, self.mask_type)
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        # The smallest box at the top left holding every kept entry (a 1x1 "A"
        # kernel keeps nothing: its box is the centre, masked to zero).
        self._rows = int(rows.max()) + 1 if rows.size else 1
        self._cols = int(cols.max()) + 1 if cols.size else 1
        box = mask[: self._rows, : self._cols]
        self._box_mask = None if box.all() else box[:, :, None, None]

    def causal_kernel(self):
        """The kernel entries the mask keeps: `kernel[:rows, :cols]` (times the mask where it is
        not all ones), shape `(rows, cols, in, filters)`. Output (i, j) is the valid
        convolution of this kernel with the inputs `i - kh // 2 .. i - kh // 2 + rows - 1` by
        `j - kw // 2 .. j - kw // 2 + cols - 1`; `pad` gives those windows for every (i, j)."""
        kernel = self.kernel[: self._rows, : self._cols]
        if self._box_mask is not None:
            kernel = kernel * ops.cast(self._box_mask, kernel.dtype)
        return kernel

    def pad(self, inputs):
        """`inputs (B, H, W, C)` padded so that the valid convolution with `causal_kernel()`
        gives `(B, H, W, filters)`: zeros above and left; below and right, padded or
        cropped (when the kept entries stop above or left of the centre)."""
        kh, kw = self.kernel_size
        top, left = kh // 2, kw // 2
        bottom, right = self._rows - 1 - top, self._cols - 1 - left
        if bottom < 0:
            inputs = inputs[:, :bottom]
        if right < 0:
            inputs = inputs[:, :, :right]
        return ops.pad(inputs, ((0, 0), (top, max(bottom, 0)), (left, max(right, 0)), (0, 0)))

    def call(self, inputs):
        outputs = ops.conv(self.pad(inputs), self.causal_kernel(), strides=1, padding="valid",
                           data_format="channels_last")
        if self.use_bias:
            outputs = outputs + self.bias
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self):
        config = super().get_config()
        config.pop("padding", None)
        config["mask_type"] = self.mask_type
        return config
