"""Single-head self-attention over the positions of a feature map."""

import math

import keras
from keras import ops

from tfvae.layers.residual_block import group_count


@keras.saving.register_keras_serializable(package="tfvae")
class SpatialAttention(keras.layers.Layer):
    """x + proj(softmax(q k^T / sqrt(c)) v) over the h * w positions of a feature map.

    The attention block latent diffusion's autoencoder and VQGAN put at the
    lowest resolution: group normalisation, 1x1 projections to queries, keys
    and values of the full channel width, one head, a 1x1 output projection,
    and the input added back. Its cost grows with (h w)^2, which is why it
    sits where the map is smallest.

    Args:
        groups: int. Group normalisation groups (as `ResidualBlock`'s).
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, h, w, c)`.

    Returns:
        Tensor of the input's shape.
    """

    def __init__(self, groups=32, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.norm = keras.layers.GroupNormalization(group_count(channels, self.groups), name="norm")
        self.qkv = keras.layers.Dense(3 * channels, name="qkv")
        self.proj = keras.layers.Dense(channels, name="proj")
        self.norm.build(input_shape)
        self.qkv.build((None, channels))
        self.proj.build((None, channels))

    def call(self, inputs):
        shape = ops.shape(inputs)
        channels = inputs.shape[-1]
        h = ops.reshape(self.norm(inputs), (shape[0], -1, channels))
        q, k, v = ops.split(self.qkv(h), 3, axis=-1)
        weights = ops.softmax(ops.matmul(q, ops.transpose(k, (0, 2, 1))) / math.sqrt(channels), axis=-1)
        return inputs + ops.reshape(self.proj(ops.matmul(weights, v)), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
