"""The adversarial autoencoder of Makhzani et al. (2016)."""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae import losses
from tfvae._checks import check_num_classes, check_positive_int
from tfvae._input_checks import check_labels, check_replica_batch, split_labels
from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.metrics import gaussian_kernel_mmd
from tfvae.models import networks
from tfvae.models.autoencoder import Autoencoder
from tfvae.models.gaussian_prior import GaussianPrior

# The nearest two class means of the default class-conditional prior lie this far apart: 3 standard
# deviations from each mean to the boundary between them (4 and 5 left samples of the asked digit more often
# in a neighbour's class on MNIST; 8 let the discriminator begin to win).
CLASS_SPACING = 6.0


def _spread_means(num_classes, latent_dim):
    """The default means of p(z|y), the nearest two `CLASS_SPACING` apart.

    Up to 2 * latent_dim classes sit on the axes, +-r e_0, +-r e_1, ... (the
    vertices of a cross-polytope): each class is told apart along its own
    direction, and its codes need not travel far from the origin. On MNIST,
    10 means on a circle in two dimensions left the encoder mixing classes
    (samples of the asked digit well under half the time, against nine in
    ten on the axes). More classes than that go on a circle in the first two
    dimensions (on a line for 1-D codes), the paper's arrangement of its 2-D
    mixture.
    """
    means = np.zeros((num_classes, latent_dim), np.float32)
    k = np.arange(num_classes)
    if num_classes <= 2 * latent_dim:
        # Two classes face each other across the origin; from three on the nearest are on two axes.
        radius = CLASS_SPACING / (2.0 if num_classes == 2 else np.sqrt(2.0))
        means[k, k // 2] = np.where(k % 2 == 0, radius, -radius)
    elif latent_dim == 1:
        means[:, 0] = CLASS_SPACING * (k - (num_classes - 1) / 2)
    else:
        angle = 2 * np.pi * k / num_classes
        radius = CLASS_SPACING / (2 * np.sin(np.pi / num_classes))
        means[:, 0], means[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    return means


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
    discriminator win within a few thousand steps (docs/models.md, "The
    autoencoders"). Keras callbacks that change `model.optimizer` (e.g.
    `ReduceLROnPlateau`) act on the reconstruction optimizer only.

    The encoder is deterministic (the paper's choice for its experiments).
    `noise_stddev` and the builders' `dropout` regularise as in
    `Autoencoder`.

    **Class-conditional prior** (`num_classes`; the paper's section 2.3,
    "Incorporating label information in the adversarial regularization",
    with every example labelled): p(z|y) = N(mu_y, I), one Gaussian per
    class. The discriminator sees a code together with the one-hot label,
    [z, onehot(y)], for the prior's draws z ~ p(z|y) and for the codes of
    images of class y alike, so the label switches it to that class's
    decision boundary and the encoder learns to put the codes of class y
    into the y-th Gaussian. Encoder and decoder see only images and codes;
    data are `(images, labels)` pairs and `sample(n, labels=y)` decodes draws
    of N(mu_y, I): images of class y.

    Args:
        encoder: as `Autoencoder`'s.
        decoder: as `Autoencoder`'s.
        discriminator: keras.Model. Codes `(batch, latent_dim)` to one logit
            `(batch, 1)`; with `num_classes`, `[codes, one-hot labels
            (batch, num_classes)]` to one logit (see
            `AdversarialAutoencoder.mlp`).
        num_classes: int >= 2 or None. None: the prior is N(0, I). An int:
            the class-conditional prior on integer labels in
            [0, num_classes).
        prior_means: array-like `(num_classes, latent_dim)` or None: the
            class means mu_y. None: the nearest two `CLASS_SPACING` = 6
            apart, on the code axes (+-r e_0, +-r e_1, ...) when
            num_classes <= 2 * latent_dim, otherwise evenly spaced on a
            circle in the first two code dimensions (the paper's 2-D
            mixture; on a line for 1-D codes). The means in use are kept in
            the config, so a saved model samples from the prior it was
            trained against.
        **kwargs: `Autoencoder`'s arguments (likelihood, noise_stddev,
            validate_inputs, value_range, seed; `seed` also seeds the prior
            draws of training) and the base `keras.Model`'s.

    Call arguments:
        inputs: images `(batch, *image_shape)` (labels are not needed to
            reconstruct).
        training: bool.

    Returns:
        `call` returns the reconstruction. `fit`/`evaluate` report `loss` (the
        reconstruction distance per example), `discriminator_loss` and
        `generator_loss` (nats per example; log 4 ~ 1.386 and log 2 ~ 0.693
        when D cannot tell codes from prior draws), and `mmd`: an unbiased
        estimate of the squared maximum mean discrepancy between the batch's
        codes and as many draws of p(z) (of p(z|y) for the batch's labels
        with a class-conditional prior; Gaussian kernel of bandwidth
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

    With the class-conditional prior, trained on (images, labels):

    >>> x, y = tfvae.data.load_arrays("mnist", "train", with_labels=True, limit=500)
    >>> saae = tfvae.AdversarialAutoencoder.mlp((28, 28, 1), latent_dim=8, num_classes=10, seed=0)
    >>> saae.compile(keras.optimizers.Adam(1e-3))
    >>> history = saae.fit(x, y, batch_size=100, epochs=1, verbose=0)
    >>> tuple(saae.sample(4, labels=7, seed=0).shape)
    (4, 28, 28, 1)
    """

    _nested = ("encoder", "decoder", "discriminator")

    def __init__(self, encoder, decoder, discriminator, num_classes=None, prior_means=None, **kwargs):
        kwargs.setdefault("name", "adversarial_autoencoder")
        super().__init__(encoder, decoder, **kwargs)
        if not isinstance(discriminator, keras.layers.Layer):
            raise ValueError(
                f"`discriminator` must be a keras.Model or Layer; received discriminator={discriminator!r}."
            )
        self.num_classes = None if num_classes is None else check_num_classes(num_classes)
        self.prior_means = None if prior_means is None else self._checked_means(prior_means)
        # The default means are set in build(), once the code size is known: read when the prior is used.
        self._prior = GaussianPrior(self.num_classes,
                                    None if self.num_classes is None else (lambda: self.prior_means))
        self.discriminator = discriminator
        # Its own stream: the prior's draws must not repeat the corruption noise.
        self.prior_sampler = GaussianSampler(seed=None if self.seed is None else self.seed + 1, name="prior_sampler")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.generator_tracker = keras.metrics.Mean(name="generator_loss")
        self.mmd_tracker = keras.metrics.Mean(name="mmd")
        self._build_from_networks()

    def _checked_means(self, prior_means):
        """`prior_means` as a float32 array `(num_classes, latent_dim)` of finite values (the width is checked
        in `build`)."""
        if self.num_classes is None:
            raise ValueError("`prior_means` are the class means of a class-conditional prior and need "
                             "`num_classes`; received prior_means with num_classes=None.")
        try:
            means = np.asarray(prior_means, dtype=np.float32)
        except (TypeError, ValueError):
            means = None
        if means is None or means.ndim != 2 or means.shape[0] != self.num_classes or not np.isfinite(means).all():
            got = "not an array of numbers" if means is None else f"shape {means.shape}"
            raise ValueError(f"`prior_means` must be finite numbers of shape (num_classes={self.num_classes}, "
                             f"latent_dim); received {got}.")
        return means

    def _networks_attached(self):
        return "discriminator" in self.__dict__

    def build(self, input_shape):
        if self.built:
            return
        super().build(input_shape)
        self.prior_sampler.build([(None, self.latent_dim)] * 2)
        if self.num_classes is not None:
            if self.prior_means is None:
                self.prior_means = _spread_means(self.num_classes, self.latent_dim)
            elif self.prior_means.shape[1] != self.latent_dim:
                raise ValueError(f"`prior_means` must have one column per code dimension, shape "
                                 f"({self.num_classes}, {self.latent_dim}); received shape {self.prior_means.shape}.")
        codes = keras.KerasTensor((1, self.latent_dim))
        expected = f"codes (batch, {self.latent_dim})"
        if self.num_classes is not None:
            codes = [codes, keras.KerasTensor((1, self.num_classes))]
            expected = f"[codes (batch, {self.latent_dim}), one-hot labels (batch, {self.num_classes})]"
        try:
            out = self.discriminator.compute_output_spec(codes)
        except (ValueError, TypeError) as e:
            raise ValueError(f"The discriminator must map {expected} to logits (batch, 1); calling it on them "
                             f"failed: {e}") from e
        if tuple(out.shape[1:]) != (1,):
            raise ValueError(f"The discriminator must map {expected} to logits (batch, 1); "
                             f"it gives shape {tuple(out.shape)}.")

    # ----------------------------------------------------------------- builders
    @classmethod
    def mlp(cls, input_shape, latent_dim, discriminator_units=networks.DISCRIMINATOR_UNITS, **kwargs):
        """`Autoencoder.mlp`'s networks (its arguments and the class's in `kwargs`) and an MLP
        discriminator with ReLU layers of widths `discriminator_units` (taking the one-hot label too when
        `num_classes` is given)."""
        return super().mlp(input_shape, latent_dim, discriminator_units=discriminator_units, **kwargs)

    @classmethod
    def conv(cls, input_shape, latent_dim, discriminator_units=networks.DISCRIMINATOR_UNITS, **kwargs):
        """`Autoencoder.conv`'s networks (its arguments and the class's in `kwargs`) and an MLP
        discriminator with ReLU layers of widths `discriminator_units` (as `mlp`'s)."""
        return super().conv(input_shape, latent_dim, discriminator_units=discriminator_units, **kwargs)

    @classmethod
    def resnet(cls, *args, **kwargs):
        """Not offered: the adversarial autoencoder's prior and discriminator are over code vectors."""
        raise ValueError("AdversarialAutoencoder.resnet is not offered: its prior and discriminator are over code "
                         "vectors; use AdversarialAutoencoder.mlp or .conv (or pass your own networks).")

    @classmethod
    def _builder_parts(cls, latent_dim, kwargs):
        kwargs = dict(kwargs)
        units = networks.as_units(kwargs.pop("discriminator_units"))
        num_classes = kwargs.get("num_classes")
        if num_classes is not None:
            num_classes = check_num_classes(num_classes)
        return {"discriminator": networks.mlp_discriminator(latent_dim, units, num_classes=num_classes), **kwargs}

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
        if self.dtype_policy.name == "mixed_float16":
            # What Keras' compile does for `optimizer` under mixed_float16.
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(discriminator_optimizer)
            generator_optimizer = keras.optimizers.LossScaleOptimizer(generator_optimizer)
        # Set before the base's compile, which builds every optimizer of `_optimizer_variables`.
        self.discriminator_optimizer = discriminator_optimizer
        self.generator_optimizer = generator_optimizer
        super().compile(optimizer=optimizer, **kwargs)

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

    def _check_step_data(self, data, who, labels_required=True):
        """Checked `(images, labels)` from what Keras passes a step; labels are None without a
        class-conditional prior (and where they are not required and not given)."""
        if self.num_classes is None:
            return super()._check_step_data(data, who), None
        x, labels = split_labels(data)
        x = self._checked(x, who)
        if labels is None:
            if not labels_required:
                return x, None
            raise ValueError(f"{who}: an {type(self).__name__} with a class-conditional prior trains on "
                             "(images, labels), e.g. fit(x, y) or tfvae.data.load(name, split, batch_size, "
                             "with_labels=True); received images only.")
        if not self.validate_inputs:
            return x, tf.convert_to_tensor(labels)
        return x, check_labels(labels, self.num_classes, x.shape[0], who)

    def _logits(self, z, labels, training):
        inputs = z if labels is None else [z, ops.one_hot(ops.cast(labels, "int32"), self.num_classes)]
        return ops.cast(self.discriminator(inputs, training=training), "float32")

    def _mmd(self, codes, draws):
        """The batch's MMD^2 estimate (over the global batch under tf.distribute), once per local example."""
        # With a class-conditional prior, code i and draw i share a label: paired, not independent.
        value = gaussian_kernel_mmd(_global(codes), _global(draws), math.sqrt(self.latent_dim),
                                    paired=self.num_classes is not None)
        return ops.full((ops.shape(codes)[0],), value)

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        (x, labels), n = check_replica_batch(self._check_step_data(data, who), who)
        distance = self._reconstruction_step(x, n)
        # Regularisation phase: the discriminator, then the encoder against the updated discriminator.
        # The encoder's tape is left during the discriminator's update, so that update is not recorded on it,
        # and re-entered, which resumes it. `_minimize` runs inside each tape: the batch reduction it starts
        # with must be recorded.
        encoder_tape = tf.GradientTape()
        with encoder_tape:
            codes = self._encode(self._corrupt(x), training=True)
        draws = self._prior.draws_like(codes, labels, self.prior_sampler)  # different on every replica
        fixed = ops.stop_gradient(codes)
        with tf.GradientTape() as discriminator_tape:
            d_loss = losses.discriminator_loss(self._logits(draws, labels, True), self._logits(fixed, labels, True))
            self._minimize(discriminator_tape, d_loss, n, self.discriminator_optimizer,
                           self.discriminator.trainable_variables, self.discriminator.losses)
        with encoder_tape:
            g_loss = losses.generator_loss(self._logits(codes, labels, True))
            self._minimize(encoder_tape, g_loss, n, self.generator_optimizer, self.encoder.trainable_variables, [])
        return self._report(loss=distance, discriminator_loss=d_loss, generator_loss=g_loss,
                            mmd=self._mmd(fixed, draws))

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        (x, labels), _ = check_replica_batch(self._check_step_data(data, who), who)
        codes = self._encode(x)
        draws = self._prior.draws_like(codes, labels, self.prior_sampler, seed=self.evaluation_seed)
        code_logits = self._logits(codes, labels, False)
        return self._report(loss=self.likelihood.negative_log_likelihood(x, self._decoded(codes)),
                            discriminator_loss=losses.discriminator_loss(self._logits(draws, labels, False),
                                                                         code_logits),
                            generator_loss=losses.generator_loss(code_logits), mmd=self._mmd(codes, draws))

    def predict_step(self, data):
        x, _ = self._check_step_data(data, f"{type(self).__name__}.predict", labels_required=False)
        return self(x, training=False)

    # ------------------------------------------------------------ public API
    def sample(self, n, *, seed=None, labels=None):
        """Decodes `n` draws of p(z) = N(0, I), or of p(z|y) = N(mu_y, I) with a class-conditional prior.

        Args:
            n: int. Number of images.
            labels: class-conditional prior: an int, ints `(n,)`, or None for
                the classes in turn (0, 1, ..., 0, 1, ...). Otherwise None.
            seed: int or None. The same int seed gives the same images.
        """
        who = f"{type(self).__name__}.sample"
        self._require_built(who)
        z, _ = self._prior.sample_latents(check_positive_int(n, "n"), self.latent_dim, seed, labels, who)
        return self.decode(z)

    def discriminate(self, z, labels=None):
        """The discriminator's probability that codes `(batch, latent_dim)` are draws of p(z) (of p(z|y) for
        `labels` `(batch,)` with a class-conditional prior)."""
        who = f"{type(self).__name__}.discriminate"
        self._require_built(who)
        z = ops.convert_to_tensor(z, "float32")
        if self.num_classes is not None:
            labels = check_labels(labels, self.num_classes, z.shape[0], who)
        elif labels is not None:
            raise ValueError(f"{who}: the prior N(0, I) takes no labels; received labels.")
        return ops.sigmoid(self._logits(z, labels, False))[:, 0]

    # ---------------------------------------------------------------- serving
    def serving_functions(self):
        """`Autoencoder`'s signatures plus `sample` (one int64 seed per image -> images) and
        `sample_from_noise` (N(0, 1) latents -> images); with a class-conditional prior both take an int32
        `label` per image too."""
        return {
            **super().serving_functions(),
            **self._prior.serving_functions(lambda z, labels: {"images": self.likelihood.mean(self._decoded(z))},
                                            self.latent_dim),
        }

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes,
                      prior_means=None if self.prior_means is None else self.prior_means.tolist())
        return config
