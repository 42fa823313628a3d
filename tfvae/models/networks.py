"""Builders of encoder and decoder networks as functional Keras models.

Functional models of stock layers serialise in `.keras` files in safe mode
(no Lambda layers), which is why the models are built here and not inline.

An encoder maps an image (and, when `num_classes` is set, a one-hot label) to
`[mean, log_var]` (or, with `gaussian=False`, to one code, for the
autoencoders); a decoder maps a latent (and label) to the likelihood's
parameters: one tensor of the image's shape (Bernoulli logits or Gaussian mean),
or two (`[mean, log_scale]`) when `two_heads=True`.
"""

import math
import numbers

import keras
from keras import layers

# The networks' defaults, each written once: the models' builders take theirs from here.
# AEVB's MLP (Kingma & Welling, 2014, appendix C): tanh hidden layers of 500 units.
MLP_UNITS = (500,)
MLP_ACTIVATION = "tanh"
# The autoencoders' MLP: ReLU hidden layers of 512 units.
AUTOENCODER_MLP_UNITS = (512,)
AUTOENCODER_MLP_ACTIVATION = "relu"
# Strided 3x3 convolutions (one halving per entry) and one dense layer.
CONV_FILTERS = (32, 64)
CONV_HIDDEN_UNITS = 256
# The adversarial autoencoder's code discriminator.
DISCRIMINATOR_UNITS = (256, 256)
DISCRIMINATOR_ACTIVATION = "relu"
# VQ-VAE's residual networks (van den Oord et al., 2017): widths, halvings, residual blocks.
VQ_HIDDEN_FILTERS = 128
VQ_RESIDUAL_FILTERS = 32
VQ_DOWNSAMPLINGS = 2
VQ_RESIDUAL_BLOCKS = 2
# The scalable residual networks (latent diffusion's autoencoder, VQGAN): the first level's width, the widest
# level's, residual blocks per level, normalisation groups.
RESNET_BASE_FILTERS = 64
RESNET_MAX_FILTERS = 256
RESNET_BLOCKS = 2
RESNET_GROUPS = 32


def static_input_shape(network):
    """Shape of one example of a functional network's first input, or None."""
    try:
        inputs = network.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    return tuple(inputs[0].shape[1:])


def as_units(hidden_units):
    """Layer widths as a tuple of ints: an int is one layer."""
    if isinstance(hidden_units, numbers.Integral):
        return (int(hidden_units),)
    return tuple(int(u) for u in hidden_units)


def _inputs(input_shape, num_classes, first_name):
    x_in = keras.Input(shape=tuple(input_shape), name=first_name)
    y_in = keras.Input(shape=(num_classes,), name="label_onehot") if num_classes else None
    return x_in, y_in


def _model(x_in, y_in, outputs, name):
    inputs = [x_in, y_in] if y_in is not None else x_in
    return keras.Model(inputs, outputs, name=name)


def _dropout(h, rate, name):
    """A Dropout layer after `h` when `rate` > 0 (dropout autoencoders); `h` itself otherwise."""
    return layers.Dropout(rate, name=name)(h) if rate else h


def _code_heads(h, latent_dim, gaussian):
    """`[mean, log_var]` of a Gaussian posterior, or one deterministic code."""
    if not gaussian:
        return layers.Dense(latent_dim, name="code")(h)
    return _gaussian_heads(h, latent_dim)


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


def mlp_encoder(input_shape, latent_dim, hidden_units=MLP_UNITS, activation=MLP_ACTIVATION, num_classes=None,
                dropout=0.0,
                gaussian=True):
    """MLP encoder of AEVB: flatten, hidden Dense layers (each followed by Dropout at rate `dropout` > 0),
    mean and log-variance heads (or one code head, `gaussian=False`)."""
    x_in, y_in = _inputs(input_shape, num_classes, "image")
    h = layers.Flatten()(x_in)
    if y_in is not None:
        h = layers.Concatenate()([h, y_in])
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
        h = _dropout(h, dropout, f"dropout_{i}")
    return _model(x_in, y_in, _code_heads(h, latent_dim, gaussian), "encoder")


def mlp_decoder(
    output_shape, latent_dim, hidden_units=MLP_UNITS, activation=MLP_ACTIVATION, num_classes=None, two_heads=False,
    dropout=0.0,
):
    """MLP decoder of AEVB: hidden Dense layers (and Dropout), then the likelihood parameters."""
    z_in, y_in = _inputs((latent_dim,), num_classes, "latent")
    h = z_in if y_in is None else layers.Concatenate()([z_in, y_in])
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
        h = _dropout(h, dropout, f"dropout_{i}")
    return _model(z_in, y_in, _image_heads(h, tuple(output_shape), two_heads), "decoder")


def conv_encoder(input_shape, latent_dim, filters=CONV_FILTERS, hidden_units=CONV_HIDDEN_UNITS, num_classes=None,
                 dropout=0.0,
                 gaussian=True):
    """Strided 3x3 convolutions (one halving per entry of `filters`), then dense heads; Dropout at rate
    `dropout` > 0 after each convolution and the dense layer."""
    if len(input_shape) != 3:
        raise ValueError(
            f"A conv encoder needs (height, width, channels) inputs; received input_shape={tuple(input_shape)}."
        )
    x_in, y_in = _inputs(input_shape, num_classes, "image")
    h = x_in
    for i, f in enumerate(filters):
        h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}")(h)
        h = _dropout(h, dropout, f"dropout_{i}")
    h = layers.Flatten()(h)
    if y_in is not None:
        h = layers.Concatenate()([h, y_in])
    h = layers.Dense(hidden_units, activation="relu", name="hidden")(h)
    h = _dropout(h, dropout, "dropout_hidden")
    return _model(x_in, y_in, _code_heads(h, latent_dim, gaussian), "encoder")


def conv_decoder(
    output_shape, latent_dim, filters=CONV_FILTERS, hidden_units=CONV_HIDDEN_UNITS, num_classes=None, two_heads=False,
    dropout=0.0,
):
    """Mirror of `conv_encoder`: dense, transposed convolutions, crop to the image size."""
    height, width, channels = output_shape
    steps = len(filters)
    h0, w0 = math.ceil(height / 2**steps), math.ceil(width / 2**steps)
    z_in, y_in = _inputs((latent_dim,), num_classes, "latent")
    h = z_in if y_in is None else layers.Concatenate()([z_in, y_in])
    h = layers.Dense(hidden_units, activation="relu", name="hidden")(h)
    h = _dropout(h, dropout, "dropout_hidden")
    h = layers.Dense(h0 * w0 * filters[-1], activation="relu", name="project")(h)
    h = layers.Reshape((h0, w0, filters[-1]))(h)
    for i, f in enumerate(reversed(filters)):
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", name=f"deconv_{i}")(h)
        h = _dropout(h, dropout, f"dropout_{i}")
    crop = ((0, h0 * 2**steps - height), (0, w0 * 2**steps - width))

    def head(name):
        t = layers.Conv2D(channels, 3, padding="same", name=f"{name}_conv")(h)
        return layers.Cropping2D(crop, name=name)(t)

    outputs = [head("params"), head("log_scale")] if two_heads else head("params")
    return _model(z_in, y_in, outputs, "decoder")


def mlp_discriminator(latent_dim, hidden_units=DISCRIMINATOR_UNITS, activation=DISCRIMINATOR_ACTIVATION,
                      num_classes=None):
    """A code discriminator: hidden Dense layers from a latent (and a one-hot label) to one logit `(batch, 1)`."""
    z_in, y_in = _inputs((latent_dim,), num_classes, "latent")
    h = z_in if y_in is None else layers.Concatenate()([z_in, y_in])
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}")(h)
    return _model(z_in, y_in, layers.Dense(1, name="logit")(h), "discriminator")


def gaussian_mlp(input_dim, hidden_units, output_dim, name):
    """A tanh MLP from `(batch, input_dim)` to a diagonal Gaussian's mean and log-variance, concatenated:
    `(batch, 2 * output_dim)` (the stochastic layers of the IWAE paper's two-layer VAE)."""
    z_in = keras.Input((input_dim,), name=f"{name}_in")
    h = z_in
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation="tanh", name=f"{name}_dense_{i}")(h)
    return keras.Model(z_in, layers.Dense(2 * output_dim, name=f"{name}_gaussian")(h), name=name)


def _residual_stack(h, hidden_filters, residual_filters, blocks, prefix):
    """Residual blocks of VQ-VAE: x + conv1x1(relu(conv3x3(relu(x)))), then a ReLU."""
    for i in range(blocks):
        r = layers.ReLU(name=f"{prefix}_res{i}_relu")(h)
        r = layers.Conv2D(residual_filters, 3, padding="same", activation="relu", name=f"{prefix}_res{i}_conv3")(r)
        r = layers.Conv2D(hidden_filters, 1, name=f"{prefix}_res{i}_conv1")(r)
        h = layers.Add(name=f"{prefix}_res{i}_add")([h, r])
    return layers.ReLU(name=f"{prefix}_res_out")(h)


def vq_encoder(input_shape, embedding_dim, hidden_filters=VQ_HIDDEN_FILTERS, residual_filters=VQ_RESIDUAL_FILTERS,
               num_downsamplings=VQ_DOWNSAMPLINGS, num_residual_blocks=VQ_RESIDUAL_BLOCKS, normalize_output=False):
    """VQ-VAE encoder (van den Oord et al., 2017): 4x4 stride-2 convolutions, a 3x3
    convolution, residual blocks, and a 1x1 convolution to `embedding_dim` (after a
    LayerNorm over the channels if `normalize_output`)."""
    x_in = keras.Input(shape=tuple(input_shape), name="image")
    h = x_in
    for i in range(num_downsamplings):
        filters = hidden_filters if i == num_downsamplings - 1 else max(hidden_filters // 2, 1)
        h = layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu", name=f"down_{i}")(h)
    h = layers.Conv2D(hidden_filters, 3, padding="same", name="enc_conv")(h)
    h = _residual_stack(h, hidden_filters, residual_filters, num_residual_blocks, "enc")
    if normalize_output:
        h = layers.LayerNormalization(name="enc_norm")(h)
    z = layers.Conv2D(embedding_dim, 1, name="pre_quantization")(h)
    return keras.Model(x_in, z, name="encoder")


def vq_decoder(output_shape, embedding_dim, hidden_filters=VQ_HIDDEN_FILTERS, residual_filters=VQ_RESIDUAL_FILTERS,
               num_downsamplings=VQ_DOWNSAMPLINGS, num_residual_blocks=VQ_RESIDUAL_BLOCKS):
    """Mirror of `vq_encoder`: 3x3 convolution, residual blocks, 4x4 stride-2 transposed
    convolutions, cropped to the image size. Outputs one value per pixel and channel."""
    height, width, channels = output_shape
    gh, gw = math.ceil(height / 2**num_downsamplings), math.ceil(width / 2**num_downsamplings)
    z_in = keras.Input(shape=(gh, gw, embedding_dim), name="quantized")
    h = layers.Conv2D(hidden_filters, 3, padding="same", name="dec_conv")(z_in)
    h = _residual_stack(h, hidden_filters, residual_filters, num_residual_blocks, "dec")
    for i in range(num_downsamplings):
        last = i == num_downsamplings - 1
        h = layers.Conv2DTranspose(
            channels if last else max(hidden_filters // 2, 1), 4, strides=2, padding="same",
            activation=None if last else "relu", name=f"up_{i}",
        )(h)
    crop = ((0, gh * 2**num_downsamplings - height), (0, gw * 2**num_downsamplings - width))
    if crop != ((0, 0), (0, 0)):
        h = layers.Cropping2D(crop, name="crop")(h)
    return keras.Model(z_in, h, name="decoder")


def resnet_levels(input_shape, downsample_factor, base_filters, max_filters):
    """The widths of the levels of `resnet_encoder` (one per halving, plus the first) and the latent grid."""
    from tfvae._checks import check_positive_int

    if len(tuple(input_shape)) != 3:
        raise ValueError(f"The residual networks take images (H, W, C); received input_shape={tuple(input_shape)}.")
    factor = check_positive_int(downsample_factor, "downsample_factor")
    if factor & (factor - 1):
        raise ValueError(f"`downsample_factor` must be a power of 2; received downsample_factor={factor}.")
    height, width, _ = input_shape
    if height % factor or width % factor:
        raise ValueError(f"`downsample_factor`={factor} must divide the image's height and width; received "
                         f"input_shape={tuple(input_shape)}.")
    levels = int(math.log2(factor)) + 1
    widths = tuple(min(check_positive_int(base_filters, "base_filters") * 2**i,
                       check_positive_int(max_filters, "max_filters")) for i in range(levels))
    return widths, (height // factor, width // factor)


def resnet_arch(downsample_factor, base_filters, max_filters, num_blocks, attention, dropout):
    """The checked architecture arguments the `.resnet` builders pass to `resnet_encoder` / `resnet_decoder`."""
    from tfvae._checks import check_int, check_rate

    return dict(downsample_factor=downsample_factor, base_filters=base_filters, max_filters=max_filters,
                num_blocks=check_int(num_blocks, "num_blocks", 0), attention=bool(attention),
                dropout=check_rate(dropout, "dropout"))


def _resnet_middle(h, width, attention, groups, dropout, prefix):
    from tfvae.layers.residual_block import ResidualBlock
    from tfvae.layers.spatial_attention import SpatialAttention

    h = ResidualBlock(width, groups, dropout, name=f"{prefix}_mid_res0")(h)
    if attention:
        h = SpatialAttention(groups, name=f"{prefix}_mid_attention")(h)
    return ResidualBlock(width, groups, dropout, name=f"{prefix}_mid_res1")(h)


def _resnet_out(h, channels, groups, name):
    from tfvae.layers.residual_block import group_count

    h = layers.GroupNormalization(group_count(h.shape[-1], groups), name=f"{name}_norm")(h)
    h = layers.Activation("silu", name=f"{name}_silu")(h)
    return layers.Conv2D(channels, 3, padding="same", name=name)(h)


def resnet_encoder(input_shape, out_channels, downsample_factor=4, base_filters=RESNET_BASE_FILTERS,
                   max_filters=RESNET_MAX_FILTERS, num_blocks=RESNET_BLOCKS, attention=True, groups=RESNET_GROUPS,
                   dropout=0.0, gaussian=False):
    """The encoder of latent diffusion's autoencoder and VQGAN: a 3x3 convolution, per level `num_blocks`
    `ResidualBlock`s then a stride-2 convolution (none after the last), a middle of residual blocks around
    `SpatialAttention` (if `attention`), and GroupNorm, SiLU and a 3x3 convolution to `out_channels` per position
    of the (H / f, W / f) grid; with `gaussian=True` two such heads, `[mean, log_var]`."""
    from tfvae.layers.residual_block import ResidualBlock

    widths, _ = resnet_levels(input_shape, downsample_factor, base_filters, max_filters)
    x_in = keras.Input(shape=tuple(input_shape), name="image")
    h = layers.Conv2D(widths[0], 3, padding="same", name="enc_in")(x_in)
    for level, width in enumerate(widths):
        for b in range(num_blocks):
            h = ResidualBlock(width, groups, dropout, name=f"enc_l{level}_res{b}")(h)
        if level < len(widths) - 1:
            h = layers.Conv2D(width, 3, strides=2, padding="same", name=f"enc_l{level}_down")(h)
    h = _resnet_middle(h, widths[-1], attention, groups, dropout, "enc")
    if gaussian:
        return keras.Model(x_in, [_resnet_out(h, out_channels, groups, "mean"),
                                  _resnet_out(h, out_channels, groups, "log_var")], name="encoder")
    return keras.Model(x_in, _resnet_out(h, out_channels, groups, "enc_out"), name="encoder")


def resnet_decoder(output_shape, in_channels, downsample_factor=4, base_filters=RESNET_BASE_FILTERS,
                   max_filters=RESNET_MAX_FILTERS, num_blocks=RESNET_BLOCKS, attention=True, groups=RESNET_GROUPS,
                   dropout=0.0, out_channels=None):
    """Mirror of `resnet_encoder`: from a (H / f, W / f, `in_channels`) grid, a 3x3 convolution, the middle, per
    level `num_blocks + 1` residual blocks then nearest-neighbour upsampling and a 3x3 convolution, and GroupNorm,
    SiLU and a 3x3 convolution to `out_channels` per pixel (default: the image's channels)."""
    from tfvae.layers.residual_block import ResidualBlock

    widths, grid = resnet_levels(output_shape, downsample_factor, base_filters, max_filters)
    z_in = keras.Input(shape=(*grid, in_channels), name="latent")
    h = layers.Conv2D(widths[-1], 3, padding="same", name="dec_in")(z_in)
    h = _resnet_middle(h, widths[-1], attention, groups, dropout, "dec")
    for level in reversed(range(len(widths))):
        for b in range(num_blocks + 1):
            h = ResidualBlock(widths[level], groups, dropout, name=f"dec_l{level}_res{b}")(h)
        if level > 0:
            h = layers.UpSampling2D(2, interpolation="nearest", name=f"dec_l{level}_up")(h)
            h = layers.Conv2D(widths[level], 3, padding="same", name=f"dec_l{level}_up_conv")(h)
    channels = output_shape[-1] if out_channels is None else out_channels
    return keras.Model(z_in, _resnet_out(h, channels, groups, "dec_out"), name="decoder")
