"""The adversarial autoencoder of Makhzani et al. (2016)."""

import math

import keras
import tensorflow as tf
from keras import ops

from tfvae import losses
from tfvae._checks import check_positive_int, check_replica_batch
from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.metrics import gaussian_kernel_mmd
from tfvae.models import _signatures, networks
from tfvae.models.autoencoder import Autoencoder
from tfvae.models.vae import _as_units

DISCRIMINATOR_UNITS = (256, 256)


def _clone(optimizer):
    """A new optimizer of the class and settings of `optimizer`, with no state."""
    return type(optimizer).from_config(optimizer.get_config())


def _global(t):
    """`t` gathered over the replicas along the batch, in replica order (`t` itself on one device)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return t
    return ctx.all_gather(t, axis=0)


@keras.saving.register_keras_serializable(package="tfvae")
class AdversarialAutoencoder(Autoencoder):
    """Adversarial autoencoder: an autoencoder whose codes are matched to a prior p(z) by a discriminator.

    Makhzani et al., *Adversarial Autoencoders* (ICLR workshop 2016). A
    discriminator D judges whether a code came from the prior p(z) = N(0, I)
    or from the encoder q(z|x), and the encoder learns to fool it, so that the
    codes of the data follow p(z); decoding z ~ p(z) then generates new
    images (`sample`). Each training step runs the paper's three updates on
    the batch, each with its own optimizer:

    1. reconstruction: encoder and decoder on the reconstruction distance
       (as `Autoencoder`), with the model's `optimizer`;
    2. discriminator: D on -log D(z_p) - log(1 - D(z_q)), z_p ~ p(z) and z_q the
       batch's codes, with `discriminator_optimizer`;
    3. generator: the encoder on -log D(z_q), against the updated D, with
       `generator_optimizer`.

    Several optimizers are given the way Keras 3 documents for GANs (the
    keras.io DCGAN and WGAN-GP examples): `compile` takes them as arguments
    and the model keeps each as an attribute; `.keras` files save and restore
    all three with their state. Unnamed ones are copies of `optimizer`'s
    settings: equal rates kept the adversaries balanced on MNIST, where a
    generator update 5x slower than the reconstruction update let the
    discriminator win within a few thousand steps (README, "The
    autoencoders"). Keras callbacks that change `model.optimizer` (e.g.
    `ReduceLROnPlateau`) act on the reconstruction optimizer only.

    The encoder is deterministic (the paper's choice for its experiments).
    `noise_stddev` and the builders' `dropout` regularise as in
    `Autoencoder`.

    Args:
        encoder, decoder: as `Autoencoder`.
        discriminator: keras.Model. Codes `(batch, latent_dim)` to one logit
            `(batch, 1)` (see `AdversarialAutoencoder.mlp`).
        **kwargs: `Autoencoder`'s arguments (reconstruction, noise_stddev,
            validate_inputs, value_range, seed; `seed` also seeds the prior
            draws of training) and the base `keras.Model`'s.

    Call arguments:
        inputs: images `(batch, *image_shape)`.
        training: bool.

    Returns:
        `call` returns the reconstruction. `fit`/`evaluate` report `loss` (the
        reconstruction distance per example), `discriminator_loss` and
        `generator_loss` (nats per example; log 4 ~ 1.386 and log 2 ~ 0.693
        when D cannot tell codes from prior draws), and `mmd`: an unbiased
        estimate of the squared maximum mean discrepancy between the batch's
        codes and as many draws of p(z) (Gaussian kernel of bandwidth
        sqrt(latent_dim), `tfvae.metrics.gaussian_kernel_mmd`), averaged over
        the epoch's batches weighted by their size: how far the codes are from
        p(z), 0 when they follow it.

    Example:

    >>> import keras, tfvae
    >>> x = tfvae.data.load_arrays("mnist", "train", limit=500)
    >>> aae = tfvae.AdversarialAutoencoder.mlp((28, 28, 1), latent_dim=8, seed=0)
    >>> aae.compile(optimizer=keras.optimizers.Adam(1e-3),
    ...             discriminator_optimizer=keras.optimizers.Adam(1e-3),
    ...             generator_optimizer=keras.optimizers.Adam(1e-3))
    >>> history = aae.fit(x, batch_size=100, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['discriminator_loss', 'generator_loss', 'loss', 'mmd']
    >>> tuple(aae.sample(4, seed=0).shape)
    (4, 28, 28, 1)
    """

    _nested = ("encoder", "decoder", "discriminator")

    def __init__(self, encoder, decoder, discriminator, **kwargs):
        kwargs.setdefault("name", "adversarial_autoencoder")
        super().__init__(encoder, decoder, **kwargs)
        if not isinstance(discriminator, keras.layers.Layer):
            raise ValueError(f"`discriminator` must be a keras.Model or Layer; received discriminator={discriminator!r}.")
        self.discriminator = discriminator
        # Its own stream: the prior's draws must not repeat the corruption noise.
        self.prior_sampler = GaussianSampler(seed=None if self.seed is None else self.seed + 1, name="prior_sampler")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.generator_tracker = keras.metrics.Mean(name="generator_loss")
        self.mmd_tracker = keras.metrics.Mean(name="mmd")
        self._build_from_networks()

    def _networks_attached(self):
        return "discriminator" in self.__dict__

    def build(self, input_shape):
        if self.built:
            return
        super().build(input_shape)
        self.prior_sampler.build([(None, self.latent_dim)] * 2)
        out = self.discriminator.compute_output_spec(keras.KerasTensor((1, self.latent_dim)))
        if tuple(out.shape[1:]) != (1,):
            raise ValueError(f"The discriminator must map codes (batch, {self.latent_dim}) to logits (batch, 1); "
                             f"it gives shape {tuple(out.shape)}.")

    # ----------------------------------------------------------------- builders
    @classmethod
    def mlp(cls, input_shape, latent_dim, discriminator_units=DISCRIMINATOR_UNITS, **kwargs):
        """`Autoencoder.mlp`'s networks (its arguments in `kwargs`) and an MLP discriminator with ReLU
        layers of widths `discriminator_units`."""
        return super().mlp(input_shape, latent_dim, discriminator_units=discriminator_units, **kwargs)

    @classmethod
    def conv(cls, input_shape, latent_dim, discriminator_units=DISCRIMINATOR_UNITS, **kwargs):
        """`Autoencoder.conv`'s networks (its arguments in `kwargs`) and an MLP discriminator with ReLU
        layers of widths `discriminator_units`."""
        return super().conv(input_shape, latent_dim, discriminator_units=discriminator_units, **kwargs)

    @classmethod
    def _builder_parts(cls, latent_dim, kwargs):
        kwargs = dict(kwargs)
        units = _as_units(kwargs.pop("discriminator_units"))
        return {"discriminator": networks.mlp_discriminator(latent_dim, units), **kwargs}

    # ------------------------------------------------------------- optimizers
    def compile(self, optimizer="adam", discriminator_optimizer=None, generator_optimizer=None, **kwargs):
        """Configures training with one optimizer per update (see the class docstring).

        Args:
            optimizer: the reconstruction update's optimizer (`model.optimizer`):
                an instance or a name.
            discriminator_optimizer: the discriminator's; None: a copy of
                `optimizer`'s settings.
            generator_optimizer: the encoder's against the discriminator; None:
                a copy of `optimizer`'s settings.
            **kwargs: other `keras.Model.compile` arguments (`jit_compile`, ...).
        """
        optimizer = keras.optimizers.get(optimizer)
        discriminator_optimizer = keras.optimizers.get(discriminator_optimizer or _clone(optimizer))
        generator_optimizer = keras.optimizers.get(generator_optimizer or _clone(optimizer))
        if discriminator_optimizer is optimizer or generator_optimizer is optimizer \
                or discriminator_optimizer is generator_optimizer:
            raise ValueError("The three updates need three optimizer instances (their moments differ); received the "
                             "same instance twice.")
        super().compile(optimizer=optimizer, **kwargs)
        if self.dtype_policy.name == "mixed_float16":
            # What Keras' compile does for `optimizer` under mixed_float16.
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(discriminator_optimizer)
            generator_optimizer = keras.optimizers.LossScaleOptimizer(generator_optimizer)
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_optimizer = generator_optimizer

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and getattr(self, "discriminator_optimizer", None) is not None:
            config = {**config, **{name: keras.optimizers.serialize(self._inner(getattr(self, name)))
                                   for name in ("discriminator_optimizer", "generator_optimizer")}}
        return config

    @staticmethod
    def _inner(optimizer):
        return optimizer.inner_optimizer if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else optimizer

    def _optimizer_variables(self):
        return [(self.optimizer, self._autoencoder_variables()),
                (self.discriminator_optimizer, self.discriminator.trainable_variables),
                (self.generator_optimizer, self.encoder.trainable_variables)]

    # ------------------------------------------------------------------ steps
    @property
    def metrics(self):
        return [self.loss_tracker, self.discriminator_tracker, self.generator_tracker, self.mmd_tracker]

    def _prior_draws(self, like):
        """Draws of p(z) = N(0, I), one per code in `like` (different on every replica under tf.distribute)."""
        zeros = ops.zeros_like(like)
        return self.prior_sampler([zeros, zeros])

    def _logits(self, z, training):
        return ops.cast(self.discriminator(z, training=training), "float32")

    def _mmd(self, codes, draws):
        """The batch's MMD^2 estimate (over the global batch under tf.distribute), once per local example."""
        value = gaussian_kernel_mmd(_global(codes), _global(draws), math.sqrt(self.latent_dim))
        return ops.full((ops.shape(codes)[0],), value)

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        x, n = check_replica_batch(self._check_step_data(data, who), who)
        distance = self._reconstruction_step(x, n)
        # Regularisation phase: the discriminator, then the encoder against the updated discriminator.
        # The encoder's tape is left during the discriminator's update and re-entered, which resumes it
        # (`stop_recording` would pause the discriminator's tape too). `_minimize` runs inside each tape:
        # the batch reduction it starts with must be recorded.
        encoder_tape = tf.GradientTape()
        with encoder_tape:
            codes = self._encode(self._corrupt(x), training=True)
        draws = self._prior_draws(codes)
        fixed = ops.stop_gradient(codes)
        with tf.GradientTape() as discriminator_tape:
            d_loss = losses.discriminator_loss(self._logits(draws, True), self._logits(fixed, True))
            self._minimize(discriminator_tape, d_loss, n, self.discriminator_optimizer,
                           self.discriminator.trainable_variables, self.discriminator.losses)
        with encoder_tape:
            g_loss = losses.generator_loss(self._logits(codes, True))
            self._minimize(encoder_tape, g_loss, n, self.generator_optimizer, self.encoder.trainable_variables, [])
        return self._report(loss=distance, discriminator_loss=d_loss, generator_loss=g_loss,
                            mmd=self._mmd(fixed, draws))

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        x, _ = check_replica_batch(self._check_step_data(data, who), who)
        codes = self._encode(x)
        draws = self._prior_draws(codes)
        code_logits = self._logits(codes, False)
        return self._report(loss=self._distance(x, self._decoded(codes)),
                            discriminator_loss=losses.discriminator_loss(self._logits(draws, False), code_logits),
                            generator_loss=losses.generator_loss(code_logits), mmd=self._mmd(codes, draws))

    # ------------------------------------------------------------ public API
    def sample(self, n, labels=None, seed=None):
        """Decodes `n` draws of p(z) = N(0, I).

        Args:
            n: int. Number of images.
            labels: None (the prior is not conditional; the argument is there so
                that every tfvae model that samples takes the same arguments).
            seed: int or None. The same int seed gives the same images.
        """
        self._require_built(f"{type(self).__name__}.sample")
        n = check_positive_int(n, "n")
        if labels is not None:
            raise ValueError(f"{type(self).__name__}.sample: the prior N(0, I) takes no labels; received labels.")
        return self.decode(keras.random.normal((n, self.latent_dim), seed=seed))

    def discriminate(self, z):
        """The discriminator's probability that codes `(batch, latent_dim)` are draws of p(z)."""
        return ops.sigmoid(self._logits(ops.convert_to_tensor(z, "float32"), False))[:, 0]

    # ---------------------------------------------------------------- serving
    def serving_functions(self):
        """`Autoencoder`'s signatures plus `sample` (one int64 seed per image -> images) and
        `sample_from_noise` (N(0, 1) latents -> images)."""
        functions = super().serving_functions()

        def sample_from_noise(noise):
            return {"images": self._output(self._decoded(noise))}

        def sample(seed):
            return sample_from_noise(_signatures.per_seed(seed, [self.latent_dim], "normal"))

        functions["sample"] = _signatures.signature(sample, [_signatures.spec((None,), tf.int64, "seed")])
        functions["sample_from_noise"] = _signatures.signature(
            sample_from_noise, [_signatures.spec((None, self.latent_dim), tf.float32, "noise")])
        return functions
