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
    """`Conv2D` whose kernel is multiplied by a causal mask in every call.

    The masked convolution of van den Oord et al., *Pixel Recurrent Neural
    Networks* (2016): output (i, j) depends only on inputs that precede it in
    raster order ("A"), or on those and (i, j) itself ("B"). The mask is a
    constant applied in `call`; the kernel weight itself is never modified, so
    optimisers, checkpoints and weight decay see an ordinary kernel.

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

    >>> conv = MaskedConv2D(64, 7, mask_type="A")
    >>> y = conv(keras.random.normal((2, 28, 28, 1)))
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
        mask = causal_mask(*self.kernel_size, self.mask_type)
        self._mask = mask[:, :, None, None]

    def call(self, inputs):
        kernel = self.kernel * ops.cast(self._mask, self.kernel.dtype)
        outputs = ops.conv(inputs, kernel, strides=1, padding="same", data_format="channels_last")
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
