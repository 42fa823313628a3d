"""Gated PixelCNN block with vertical and horizontal stacks (no blind spot)."""


import keras
import tensorflow as tf
from keras import layers, ops

from tfvae._checks import check_num_classes, check_positive_int
from tfvae.layers.masked_conv2d import MaskedConv2D


def _gate(x):
    # TensorFlow ops (what keras.ops runs on this backend): the step methods below
    # trace inside while loops, where every helper op costs tracing time.
    a, b = tf.split(x, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


def shift_down(x):
    """Moves every row one down (row 0 becomes zeros): row i then holds row i - 1."""
    return ops.pad(x, ((0, 0), (1, 0), (0, 0), (0, 0)))[:, :-1]


@keras.saving.register_keras_serializable(package="tfvae")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One layer of the gated PixelCNN of van den Oord et al., *Conditional Image
    Generation with PixelCNN Decoders* (NeurIPS 2016).

    Two stacks remove the blind spot of masked convolutions:
      * vertical: a k x k convolution over the rows up to and including the
        current one (mask "V"). Its pre-activation, shifted down one row and
        passed through a 1x1 convolution, feeds the horizontal stack, so the
        horizontal stack at row i sees every column of the rows above i.
      * horizontal: a 1 x k convolution over the current row, left of the pixel
        (mask "A" in the first block) or up to and including it ("B"), plus
        the vertical feed.
    Both use gated units tanh(a) * sigmoid(b). The horizontal stack has a 1x1
    output convolution with a residual connection (not in the first block, whose
    input is the pixel itself) and a 1x1 skip output. With `num_classes`, a
    one-hot label adds a learned bias to both stacks' pre-activations.

    `vertical` and `horizontal` are also callable on their own, and
    `vertical_step` / `horizontal_step` compute one row of the vertical stack and
    one position of the horizontal stack from the few inputs their causal kernels
    keep: an ancestral sampler then computes each position of each stack once.

    Args:
        filters: int. Channels of both stacks.
        kernel_size: int, odd. Width k of the convolutions.
        first: bool. First block: mask "A" and no residual in the horizontal stack.
        num_classes: int or None. Size of the one-hot conditioning label.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: list `[v, h]` or `[v, h, label_one_hot]`; v and h are
            `(batch, height, width, filters)` (the first block's may have any
            channel count), label `(batch, num_classes)`.

    Returns:
        List `[v_out, h_out, skip]`, each `(batch, height, width, filters)`.

    Example:

    >>> import keras, tfvae
    >>> x = keras.random.normal((2, 7, 7, 8), seed=0)
    >>> block = tfvae.GatedPixelCNNBlock(64, kernel_size=3, first=True)
    >>> v, h, skip = block([x, x])  # vertical stack, horizontal stack, skip
    >>> tuple(v.shape), tuple(h.shape), tuple(skip.shape)
    ((2, 7, 7, 64), (2, 7, 7, 64), (2, 7, 7, 64))
    """

    def __init__(self, filters, kernel_size=3, first=False, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be an odd positive int; received kernel_size={kernel_size!r}.")
        self.first = bool(first)
        self.num_classes = None if num_classes is None else check_num_classes(num_classes)
        f2 = 2 * self.filters
        self.v_conv = MaskedConv2D(f2, self.kernel_size, mask_type="V", name="v_conv")
        self.v_to_h = layers.Conv2D(f2, 1, name="v_to_h")
        self.h_conv = MaskedConv2D(f2, (1, self.kernel_size), mask_type="A" if self.first else "B", name="h_conv")
        self.h_out = layers.Conv2D(self.filters, 1, name="h_out")
        self.skip = layers.Conv2D(self.filters, 1, name="skip")
        if num_classes is not None:
            self.v_label = layers.Dense(f2, use_bias=False, name="v_label")
            self.h_label = layers.Dense(f2, use_bias=False, name="h_label")

    def build(self, input_shape):
        v_shape, h_shape = input_shape[0], input_shape[1]
        f2_shape = (*v_shape[:-1], 2 * self.filters)
        self.v_conv.build(v_shape)
        self.v_to_h.build(f2_shape)
        self.h_conv.build(h_shape)
        self.h_out.build((*h_shape[:-1], self.filters))
        self.skip.build((*h_shape[:-1], self.filters))
        if self.num_classes is not None:
            self.v_label.build((None, self.num_classes))
            self.h_label.build((None, self.num_classes))

    def _label_bias(self, dense, label):
        if self.num_classes is None or label is None:
            return 0.0
        return dense(label)[:, None, None, :]

    def vertical(self, v, label=None):
        """Returns `(v_out, feed)`: the next vertical input and the horizontal stack's feed."""
        pre = self.v_conv(v) + self._label_bias(self.v_label if self.num_classes else None, label)
        return _gate(pre), self.v_to_h(shift_down(pre))

    def horizontal(self, h, feed, label=None):
        """Returns `(h_out, skip)` for rows of `h` and the matching rows of `feed`."""
        pre = self.h_conv(h) + feed + self._label_bias(self.h_label if self.num_classes else None, label)
        gated = _gate(pre)
        out = self.h_out(gated)
        if not self.first:
            out = out + h
        return out, self.skip(gated)

    # The step methods below are written in TensorFlow ops, not keras.ops: they run inside
    # tf.while_loops that are traced at a sampler's first call, and raw ops trace in about
    # half the time (fewer helper ops per call), which is most of that first call.
    def step_weights(self, label=None, dtype="float32"):
        """What `vertical_step` and `horizontal_step` use, read and cast once.

        The kept part of each causal kernel (`MaskedConv2D.causal_kernel`), the
        1x1 convolutions as matrices (the horizontal output and skip side by side,
        one product for both) and the label's biases, so that a sampling loop
        reads no variable and casts nothing per position.

        Args:
            label: one-hot `(B, num_classes)` or None.
            dtype: the compute dtype.

        Returns:
            dict of tensors.
        """
        def cast(x):
            return tf.cast(x, dtype)

        v_bias = cast(self.v_conv.bias)
        feed_bias = cast(self.v_to_h.bias) + cast(self.h_conv.bias)
        if self.num_classes is not None and label is not None:
            v_bias = v_bias + cast(tf.matmul(label, self.v_label.kernel))[:, None, None, :]
            feed_bias = feed_bias + cast(tf.matmul(label, self.h_label.kernel))[:, None, :]
        h_kernel = cast(self.h_conv.causal_kernel())
        return {
            "v_kernel": cast(self.v_conv.causal_kernel()),
            "v_bias": v_bias,
            "v_to_h": cast(self.v_to_h.kernel[0, 0]),
            # The feed's bias and the horizontal convolution's both enter every position: add them once per row.
            "feed_bias": feed_bias,
            "h_kernel": tf.reshape(h_kernel, [-1, h_kernel.shape[-1]]),
            "out_skip": cast(tf.concat([self.h_out.kernel[0, 0], self.skip.kernel[0, 0]], axis=-1)),
            "out_skip_bias": cast(tf.concat([self.h_out.bias, self.skip.bias], axis=-1)),
        }

    def vertical_step(self, rows, weights):
        """The vertical stack on one row, from the rows above it only.

        Args:
            rows: `(B, kernel_size // 2 + 1, W, C)`, the newest rows of this block's
                vertical input (zeros above the grid); the last is the row computed.
            weights: `step_weights(...)`.

        Returns:
            `(v_out, feed)`, `(B, 1, W, filters)` and `(B, W, 2 * filters)`: this row of
            the next block's vertical input, and what the horizontal stack adds on the
            row *below* (the shift of `vertical`), its bias included.
        """
        half = self.kernel_size // 2
        pre = tf.nn.conv2d(rows, weights["v_kernel"], 1, [[0, 0], [0, 0], [half, half], [0, 0]])
        pre = pre + weights["v_bias"]
        return _gate(pre), self.horizontal_feed(pre[:, 0], weights)

    def horizontal_feed(self, pre, weights):
        """The horizontal feed `(B, W, 2 * filters)` of a row from the vertical pre-activation
        `(B, W, 2 * filters)` of the row above it (zeros above the grid)."""
        return tf.einsum("bwc,cd->bwd", pre, weights["v_to_h"]) + weights["feed_bias"]

    def horizontal_step(self, previous, current, feed, weights):
        """The horizontal stack at one position (i, j), from the positions left of it only.

        Args:
            previous: `(B, (kernel_size // 2) * C)`, this block's horizontal input at
                columns j - kernel_size // 2 .. j - 1 side by side (zeros left of the grid).
            current: `(B, C)`, its input at (i, j). The first block's mask "A" never
                reads it (pass zeros); the others add it as the residual.
            feed: `(B, 2 * filters)`, the feed at (i, j) (`vertical_step`).
            weights: `step_weights(...)`.

        Returns:
            `(h_out, skip)`, each `(B, filters)`.
        """
        kernel = weights["h_kernel"]
        # The kept columns start at j - kernel_size // 2: the first of the window.
        window = tf.concat([previous, current], axis=-1)
        if kernel.shape[0] < window.shape[-1]:
            window = window[:, : kernel.shape[0]]
        gated = _gate(tf.matmul(window, kernel) + feed)
        out, skip = tf.split(tf.matmul(gated, weights["out_skip"]) + weights["out_skip_bias"], 2, axis=-1)
        if not self.first:
            out = out + current
        return out, skip

    def call(self, inputs):
        v, h = inputs[0], inputs[1]
        label = inputs[2] if len(inputs) > 2 else None
        v_out, feed = self.vertical(v, label)
        h_out, skip = self.horizontal(h, feed, label)
        return [v_out, h_out, skip]

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[0][:-1], self.filters)
        return [shape, shape, shape]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "first": self.first,
            "num_classes": self.num_classes,
        }
