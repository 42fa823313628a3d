"""Builders of encoder and decoder networks as functional Keras models.

Functional models of stock layers serialise in `.keras` files in safe mode
(no Lambda layers), which is why the models are built here and not inline.

An encoder maps an image (and, when `num_classes` is set, a one-hot label) to
`[mean, log_var]`; a decoder maps a latent (and label) to the likelihood's
parameters: one tensor of the image's shape (Bernoulli logits or Gaussian mean),
or two (`[mean, log_scale]`) when `two_heads=True`.
"""

import math

import keras
from keras import layers


def _inputs(input_shape, num_classes, first_name):
    x_in = keras.Input(shape=tuple(input_shape), name=first_name)
    y_in = keras.Input(shape=(num_classes,), name="label_onehot") if num_classes else None
    return x_in, y_in


def _model(x_in, y_in, outputs, name):
    inputs = [x_in, y_in] if y_in is not None else x_in
    return keras.Model(inputs, outputs, name=name)


def _gaussian_heads(h, latent_dim):
    mean = layers.Dense(latent_dim, name="mean")(h)
    log_var = layers.Dense(latent_dim, name="log_var")(h)
    return [mean, log_var]


def _image_heads(h, output_shape, two_heads):
    """One dense head (or two) reshaped to the image shape."""
    size = math.prod(output_shape)
    first = layers.Reshape(output_shape, name="params")(layers.Dense(size, name="params_dense")(h))
    if not two_heads:
        return first
    second = layers.Reshape(output_shape, name="log_scale")(
        layers.Dense(size, name="log_scale_dense")(h)
    )
    return [first, second]


def mlp_encoder(input_shape, latent_dim, hidden_units=(500,), activation="tanh", num_classes=None):
    """MLP encoder of AEVB: flatten, hidden Dense layers, mean and log-variance heads."""
    x_in, y_in = _inputs(input_shape, num_classes, "image")
    h = layers.Flatten()(x_in)
    if y_in is not None:
        h = layers.Concatenate()([h, y_in])
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    return _model(x_in, y_in, _gaussian_heads(h, latent_dim), "encoder")


def mlp_decoder(
    output_shape, latent_dim, hidden_units=(500,), activation="tanh", num_classes=None, two_heads=False
):
    """MLP decoder of AEVB: hidden Dense layers, then the likelihood parameters."""
    z_in, y_in = _inputs((latent_dim,), num_classes, "latent")
    h = z_in if y_in is None else layers.Concatenate()([z_in, y_in])
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    return _model(z_in, y_in, _image_heads(h, tuple(output_shape), two_heads), "decoder")


def conv_encoder(input_shape, latent_dim, filters=(32, 64), hidden_units=256, num_classes=None):
    """Strided 3x3 convolutions (one halving per entry of `filters`), then dense heads."""
    if len(input_shape) != 3:
        raise ValueError(f"A conv encoder needs (height, width, channels) inputs; received input_shape={tuple(input_shape)}.")
    x_in, y_in = _inputs(input_shape, num_classes, "image")
    h = x_in
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}")(h)
    h = layers.Flatten()(h)
    if y_in is not None:
        h = layers.Concatenate()([h, y_in])
    h = layers.Dense(hidden_units, activation="relu", name="hidden")(h)
    return _model(x_in, y_in, _gaussian_heads(h, latent_dim), "encoder")


def conv_decoder(
    output_shape, latent_dim, filters=(32, 64), hidden_units=256, num_classes=None, two_heads=False
):
    """Mirror of `conv_encoder`: dense, transposed convolutions, crop to the image size."""
    height, width, channels = output_shape
    steps = len(filters)
    h0, w0 = math.ceil(height / 2**steps), math.ceil(width / 2**steps)
    z_in, y_in = _inputs((latent_dim,), num_classes, "latent")
    h = z_in if y_in is None else layers.Concatenate()([z_in, y_in])
    h = layers.Dense(hidden_units, activation="relu", name="hidden")(h)
    h = layers.Dense(h0 * w0 * filters[-1], activation="relu", name="project")(h)
    h = layers.Reshape((h0, w0, filters[-1]))(h)
    for i, f in enumerate(reversed(filters)):
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", name=f"deconv_{i}")(h)
    crop = ((0, h0 * 2**steps - height), (0, w0 * 2**steps - width))

    def head(name):
        t = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv")(h)
        return layers.Cropping2D(crop, name=name)(t)

    outputs = [head("params"), head("log_scale")] if two_heads else head("params")
    return _model(z_in, y_in, outputs, "decoder")
