"""Autoencoders of the design notes: plain, denoising and dropout."""

import math
import numbers

import keras
import tensorflow as tf
from keras import ops

from tfvae import likelihoods
from tfvae._checks import check_positive_int, check_rate, check_value_range
from tfvae._input_checks import check_image_batch, check_replica_batch
from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.models import _signatures, networks
from tfvae.models.base import BaseModel, renamed_attribute

LIKELIHOODS = ("squared_error", "bernoulli")


@keras.saving.register_keras_serializable(package="tfvae")
class Autoencoder(BaseModel):
    """Autoencoder: an encoder g to a low-dimensional code, a decoder h back to the image.

    Trained to minimise a reconstruction distance dist(x, h(g(x))) per example,
    summed over pixels and averaged over the batch: the squared error
    ||x - h(g(x))||^2 by default, or the Bernoulli cross-entropy (nats) for
    binary data. Two regularised kinds from the same class:

    - **Denoising** (`noise_stddev` > 0; Vincent et al., *Extracting and Composing
      Robust Features with Denoising Autoencoders*, 2008): in training the
      encoder sees x_tilde = x + eps, eps ~ N(0, noise_stddev^2 I), clipped to the
      data's value range, and the loss is dist(x, h(g(x_tilde))) against the
      clean x. Evaluation, `encode` and `reconstruct` use the input as given.
    - **Dropout** (`dropout` > 0 in the builders; Srivastava et al., 2014):
      Dropout layers after the hidden layers of both networks cut random
      connections in training.

    Args:
        encoder: keras.Model. Images `(batch, *image_shape)` to codes
            `(batch, latent_dim)`. A functional model (see `Autoencoder.mlp`,
            `.conv`) builds the autoencoder at once; others need
            `model.build((None, *image_shape))`.
        decoder: keras.Model. Codes `(batch, latent_dim)` to images: values
            ("squared_error") or Bernoulli logits ("bernoulli").
        likelihood: "squared_error" (the default) or "bernoulli" (binary data
            in [0, 1]), or the `tfvae.likelihoods` object of that name: the
            reconstruction distance.
        noise_stddev: float >= 0. Standard deviation of the training corruption,
            in the units of the data (0: a plain autoencoder).
        validate_inputs: bool. Check images for shape, dtype, NaN/Inf and range,
            raising `ValueError`.
        value_range: "unit" ([0, 1]) or "centered" ([-0.5, 0.5], squared error
            only): the range of the data, which inputs must lie in, corrupted
            inputs are clipped to and exported models record.
        seed: int or None. Seed of the corruption noise.
        reconstruction: deprecated name of `likelihood` (tfvae 0.1), accepted
            with a DeprecationWarning.
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: images `(batch, *image_shape)`.
        training: bool. When True the input is corrupted (denoising) and
            dropout is active.

    Returns:
        `call` returns the reconstruction (pixel probabilities for "bernoulli"),
        shaped like the input. `fit`/`evaluate` report `loss`, the
        reconstruction distance per example.

    Example:

    >>> import keras, tfvae
    >>> x = tfvae.data.load_arrays("mnist", "train", limit=500)
    >>> ae = tfvae.Autoencoder.mlp((28, 28, 1), latent_dim=32, noise_stddev=0.3, seed=0)
    >>> ae.compile(keras.optimizers.Adam(1e-3))
    >>> history = ae.fit(x, batch_size=100, epochs=1, verbose=0)
    >>> tuple(ae.encode(x[:5]).shape), tuple(ae.reconstruct(x[:5]).shape)
    ((5, 32), (5, 28, 28, 1))
    """

    _nested = ("encoder", "decoder")
    # jit_compile="auto": no XLA. On CPU, XLA trained the denoising MLP autoencoder at 0.25x and the
    # adversarial one at 1.15x (within this machine's spread) the speed without it
    # (benchmarks/bench_throughput.py; docs/benchmarks.md, "XLA on CPU").
    jit_compile_default = False

    _renamed_arguments = {"reconstruction": ("likelihood", {})}
    reconstruction = renamed_attribute("reconstruction", "likelihood", {})

    def __init__(self, encoder, decoder, likelihood=None, noise_stddev=0.0, validate_inputs=True,
                 value_range="unit", seed=None, reconstruction=None, **kwargs):
        kwargs.setdefault("name", "autoencoder")
        super().__init__(**kwargs)
        for arg, net in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(f"`{arg}` must be a keras.Model or Layer; received {arg}={net!r}.")
        likelihood = self._renamed("reconstruction", reconstruction, likelihood)
        likelihood = likelihoods.get(LIKELIHOODS[0] if likelihood is None else likelihood, LIKELIHOODS,
                                     type(self).__name__)
        if (isinstance(noise_stddev, bool) or not isinstance(noise_stddev, numbers.Real)
                or not math.isfinite(noise_stddev) or noise_stddev < 0):
            raise ValueError(f"`noise_stddev` must be a number >= 0; received noise_stddev={noise_stddev!r}.")
        check_value_range(value_range, f"likelihood={likelihood.name!r}" if likelihood.unit_range_only else None)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.noise_stddev = float(noise_stddev)
        self.validate_inputs = bool(validate_inputs)
        self.value_range = value_range
        self.seed = seed
        self.corruption = GaussianSampler(seed=seed, name="corruption")  # refuses a seed that is not an int
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self._image_shape = None
        self._latent_shape = None
        self._build_from_networks()

    def _build_from_networks(self):
        """Builds the model when the encoder's input shape is known and every network is attached."""
        shape = networks.static_input_shape(self.encoder)
        if shape is not None and all(d is not None for d in shape) and self._networks_attached():
            self.build((None, *shape))

    def _networks_attached(self):
        """Whether the networks are in place (a subclass attaches its own after this class's `__init__`)."""
        return True

    # ----------------------------------------------------------------- builders
    @classmethod
    def mlp(cls, input_shape, latent_dim, hidden_units=networks.AUTOENCODER_MLP_UNITS,
            activation=networks.AUTOENCODER_MLP_ACTIVATION, dropout=0.0, **kwargs):
        """MLP encoder and decoder with hidden layers `hidden_units` (mirrored in the decoder).

        Args:
            input_shape: shape of one image, e.g. `(28, 28, 1)`.
            latent_dim: int. Size of the code.
            hidden_units: int or tuple of ints. Hidden layer widths.
            activation: activation of the hidden layers.
            dropout: float in [0, 1). Dropout rate after every hidden layer.
            **kwargs: arguments of the class (likelihood, noise_stddev, ...).
        """
        units = networks.as_units(hidden_units)
        dropout = check_rate(dropout, "dropout")
        encoder = networks.mlp_encoder(input_shape, latent_dim, units, activation, dropout=dropout, gaussian=False)
        decoder = networks.mlp_decoder(input_shape, latent_dim, tuple(reversed(units)), activation, dropout=dropout)
        return cls(encoder, decoder, **cls._builder_parts(latent_dim, kwargs))

    @classmethod
    def conv(cls, input_shape, latent_dim, filters=networks.CONV_FILTERS, hidden_units=networks.CONV_HIDDEN_UNITS,
             dropout=0.0, **kwargs):
        """Strided-convolution encoder and transposed-convolution decoder (as `VAE.conv`'s).

        Args:
            input_shape: `(H, W, C)`.
            latent_dim: int. Size of the code.
            filters: tuple of ints. One stride-2 convolution per entry.
            hidden_units: int. Width of the dense layer.
            dropout: float in [0, 1). Dropout rate after every convolution and the dense layer.
            **kwargs: arguments of the class.
        """
        filters = networks.as_units(filters)
        dropout = check_rate(dropout, "dropout")
        encoder = networks.conv_encoder(input_shape, latent_dim, filters, int(hidden_units), dropout=dropout,
                                        gaussian=False)
        decoder = networks.conv_decoder(input_shape, latent_dim, filters, int(hidden_units), dropout=dropout)
        return cls(encoder, decoder, **cls._builder_parts(latent_dim, kwargs))

    @classmethod
    def resnet(cls, input_shape, latent_channels=4, downsample_factor=4, base_filters=networks.RESNET_BASE_FILTERS,
               max_filters=networks.RESNET_MAX_FILTERS, num_blocks=networks.RESNET_BLOCKS, attention=True,
               dropout=0.0, **kwargs):
        """The residual networks of `VAE.resnet` with a deterministic spatial code (H / f, W / f,
        `latent_channels`): an autoencoder for colour images of 32x32 and up.

        Args:
            input_shape: `(H, W, C)`, H and W divisible by `downsample_factor`.
            latent_channels: int. Channels of the code grid.
            downsample_factor: as `VAE.resnet`'s.
            base_filters: as `VAE.resnet`'s.
            max_filters: as `VAE.resnet`'s.
            num_blocks: as `VAE.resnet`'s.
            attention: as `VAE.resnet`'s.
            dropout: as `VAE.resnet`'s.
            **kwargs: arguments of the class (likelihood, noise_stddev, ...).
        """
        arch = networks.resnet_arch(downsample_factor, base_filters, max_filters, num_blocks, attention, dropout)
        latent_channels = check_positive_int(latent_channels, "latent_channels")
        encoder = networks.resnet_encoder(input_shape, latent_channels, **arch)
        decoder = networks.resnet_decoder(input_shape, latent_channels, **arch)
        return cls(encoder, decoder, **kwargs)

    @classmethod
    def _builder_parts(cls, latent_dim, kwargs):
        """The class's arguments besides encoder and decoder (subclasses add their own networks)."""
        return kwargs

    # ------------------------------------------------------------------- build
    def build(self, input_shape):
        if self.built:
            return
        self._image_shape = tuple(input_shape)[1:]
        latent_shape = networks.static_input_shape(self.decoder)
        if latent_shape is None:
            latent_shape = tuple(self.encoder.compute_output_spec(keras.KerasTensor((1, *self._image_shape))).shape[1:])
        self._latent_shape = tuple(int(d) for d in latent_shape)
        self.corruption.build([(None, *self._image_shape)] * 2)

    @property
    def latent_dim(self):
        """Size of the code (h * w * channels for a spatial code)."""
        return None if self._latent_shape is None else math.prod(self._latent_shape)

    @property
    def latent_shape(self):
        """Shape of one code: `(latent_dim,)`, or `(h, w, channels)` for `Autoencoder.resnet`'s spatial code."""
        return self._latent_shape

    def _require_built(self, who):
        if not self.built:
            raise ValueError(f"{who}: the model is not built; call model.build((None, *image_shape)) first.")

    # ----------------------------------------------------------------- pieces
    def _checked(self, x, who):
        self._require_built(who)
        if not self.validate_inputs:
            return tf.convert_to_tensor(x)
        return check_image_batch(x, self.image_shape, self.value_bounds, who)

    def _check_step_data(self, data, who):
        return self._checked(data[0] if isinstance(data, (tuple, list)) else data, who)

    def _corrupt(self, x):
        """x + N(0, noise_stddev^2) noise, clipped to the value range (training inputs of a denoising model)."""
        if self.noise_stddev == 0:
            return x
        log_var = ops.full(ops.shape(x), 2.0 * math.log(self.noise_stddev), dtype=x.dtype)
        low, high = self.value_bounds
        return ops.clip(self.corruption([x, log_var]), low, high)

    def _encode(self, x, training=False):
        return ops.cast(self.encoder(x, training=training), "float32")

    def _decoded(self, z, training=False):
        return self.decoder(z, training=training)

    def _reconstruction_step(self, x, n):
        """One update of encoder and decoder on the reconstruction distance; returns it per example."""
        with tf.GradientTape() as tape:
            decoded = self._decoded(self._encode(self._corrupt(x), True), True)
            distance = self.likelihood.negative_log_likelihood(x, decoded)
            self._minimize(tape, distance, n, self.optimizer, self._autoencoder_variables(),
                           self.encoder.losses + self.decoder.losses)
        return distance

    def _autoencoder_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    # ------------------------------------------------------------- keras API
    def call(self, inputs, training=False):
        x = self._corrupt(inputs) if training else inputs
        return self.likelihood.mean(self._decoded(self._encode(x, training), training))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        x, n = check_replica_batch(self._check_step_data(data, who), who)
        return self._report(loss=self._reconstruction_step(x, n))

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        x, _ = check_replica_batch(self._check_step_data(data, who), who)
        return self._report(loss=self.likelihood.negative_log_likelihood(x, self._decoded(self._encode(x))))

    def predict_step(self, data):
        return self(self._check_step_data(data, f"{type(self).__name__}.predict"), training=False)

    # ------------------------------------------------------------ public API
    def encode(self, x):
        """Codes `(batch, latent_dim)` of images `(batch, *image_shape)`."""
        return self._encode(self._checked(x, f"{type(self).__name__}.encode"))

    def decode(self, z):
        """Images of codes `(batch, latent_dim)` (pixel probabilities for "bernoulli")."""
        who = f"{type(self).__name__}.decode"
        self._require_built(who)
        z = check_image_batch(z, self.latent_shape, None, who)
        return self.likelihood.mean(self._decoded(z))

    def reconstruct(self, x):
        """decode(encode(x)): for a denoising model, the clean image it recovers from a noisy one."""
        return self(self._checked(x, f"{type(self).__name__}.reconstruct"), training=False)

    # ---------------------------------------------------------------- serving
    def serving_functions(self):
        """The model's serving signatures: `{name: tf.function}` with named, typed, batch-dynamic inputs.

        `serving_default` (images -> reconstruction), `encode` (images -> latent)
        and `decode` (latent -> images). These are what `tfvae.export` writes
        into SavedModels and TFLite files; calling them runs the model itself.
        """
        images = [_signatures.spec((None, *self.image_shape), tf.float32, "images")]

        def reconstruct(images):
            return {"reconstruction": self(images, training=False)}

        def encode(images):
            return {"latent": self._encode(images)}

        def decode(latent):
            return {"images": self.likelihood.mean(self._decoded(latent))}

        return {
            "serving_default": _signatures.signature(reconstruct, images),
            "encode": _signatures.signature(encode, images),
            "decode": _signatures.signature(decode, [_signatures.spec((None, *self.latent_shape), tf.float32,
                                                                      "latent")]),
        }

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(
            self._nested_config(),
            likelihood=likelihoods.serialize(self.likelihood),
            noise_stddev=self.noise_stddev,
            validate_inputs=self.validate_inputs,
            value_range=self.value_range,
            seed=self.seed,
        )
        return config
