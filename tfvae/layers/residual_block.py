"""The residual block of today's image autoencoders: GroupNorm, SiLU, 3x3 convolution, twice, plus the input."""

import keras

from tfvae._checks import check_positive_int, check_rate


def group_count(channels, groups):
    """The number of normalisation groups for `channels`: the largest divisor of it not above `groups`."""
    return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


@keras.saving.register_keras_serializable(package="tfvae")
class ResidualBlock(keras.layers.Layer):
    """x + f(x), f = [GroupNorm, SiLU, Conv 3x3] twice (dropout before the second convolution).

    The block of the KL-regularised autoencoder of latent diffusion and of
    VQGAN's encoder and decoder (after the residual networks of He et al.,
    2016, with group normalisation, Wu & He, 2018). When the channel count
    changes, a 1x1 convolution maps the input to it.

    Args:
        filters: int >= 1. Output channels.
        groups: int >= 1. Group normalisation groups; the largest divisor of
            the channel count not above it is used (32 by default, as in the
            references; small test networks get fewer).
        dropout: float in [0, 1).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, h, w, c)`.
        training: bool (dropout).

    Returns:
        `(batch, h, w, filters)`.

    Example:

    >>> import numpy as np, tfvae
    >>> block = tfvae.layers.ResidualBlock(16)
    >>> tuple(block(np.zeros((2, 8, 8, 4), "float32")).shape)
    (2, 8, 8, 16)
    """

    def __init__(self, filters, groups=32, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.groups = check_positive_int(groups, "groups")
        self.dropout = check_rate(dropout, "dropout")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.norm1 = keras.layers.GroupNormalization(group_count(channels, self.groups), name="norm1")
        self.conv1 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv1")
        self.norm2 = keras.layers.GroupNormalization(group_count(self.filters, self.groups), name="norm2")
        self.drop = keras.layers.Dropout(self.dropout, name="dropout")
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same", name="conv2")
        self.shortcut = None if channels == self.filters else keras.layers.Conv2D(self.filters, 1, name="shortcut")
        self.norm1.build(input_shape)
        self.conv1.build(input_shape)
        inner = (*input_shape[:-1], self.filters)
        self.norm2.build(inner)
        self.conv2.build(inner)
        if self.shortcut is not None:
            self.shortcut.build(input_shape)

    def call(self, inputs, training=False):
        h = self.conv1(keras.activations.silu(self.norm1(inputs)))
        h = self.conv2(self.drop(keras.activations.silu(self.norm2(h)), training=training))
        return (inputs if self.shortcut is None else self.shortcut(inputs)) + h

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "groups": self.groups, "dropout": self.dropout}
