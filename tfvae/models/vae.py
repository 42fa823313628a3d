"""The Gaussian variational autoencoder of Auto-Encoding Variational Bayes."""

import math
import numbers
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae import likelihoods, losses
from tfvae._checks import (
    check_int,
    check_num_classes,
    check_positive_int,
    check_positive_ints,
    check_positive_number,
    check_value_range,
)
from tfvae._input_checks import check_image_batch, check_labels, check_replica_batch, split_labels
from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.layers.inverse_autoregressive_flow import InverseAutoregressiveFlow
from tfvae.models import _signatures, networks
from tfvae.models.base import BaseModel
from tfvae.models.gaussian_prior import GaussianPrior
from tfvae.models.hierarchical_prior import HierarchicalPrior
from tfvae.models.mixture_prior import MixturePrior

LIKELIHOODS = ("bernoulli", "gaussian", "discretized_gaussian", "discretized_logistic_mixture")
CONDITIONINGS = ("inputs", "prior_mean")
GRADIENT_ESTIMATORS = ("iwae", "dreg")
PRIORS = ("standard", "mixture", "vamp")
# Floats per decoder-output tensor in one importance-sampling chunk (16 MiB).
_IW_CHUNK_ELEMENTS = 2**22


def _decoder_output_shape(input_shape, kwargs):
    """What the builders' decoders give per image: its shape, or a mixture's parameters per pixel."""
    likelihood = likelihoods.get(kwargs.get("likelihood", "bernoulli"), LIKELIHOODS, "VAE")
    if hasattr(likelihood, "output_channels"):
        return (*tuple(input_shape)[:-1], likelihood.output_channels(tuple(input_shape)[-1]))
    return tuple(input_shape)


def _builder_num_classes(kwargs):
    """How many label inputs the builders' networks take: `num_classes` when labels are network inputs."""
    if kwargs.get("num_classes") is None or kwargs.get("conditioning", "inputs") != "inputs":
        return None
    return check_num_classes(kwargs["num_classes"])


@keras.saving.register_keras_serializable(package="tfvae")
class VAE(BaseModel):
    """Variational autoencoder with a diagonal-Gaussian posterior and analytic KL.

    Follows Kingma & Welling, *Auto-Encoding Variational Bayes* (ICLR 2014): the
    encoder gives q(z|x) = N(mean, exp(log_var)), z = mean + sigma * eps is drawn
    by a `GaussianSampler`, the decoder gives the parameters of p(x|z), and the
    training objective is the negative ELBO

        -ELBO(x) = -E_q[log p(x|z)] + KL(q(z|x) || N(0, I))

    in nats per example: summed over pixels and latent dimensions, averaged over
    the batch, with a one-sample estimate of the first term and the KL in closed
    form. `log_likelihood` gives the importance-weighted bound of Burda et al.,
    *Importance Weighted Autoencoders* (2016), which tends to log p(x) as the
    number of samples grows.

    Args:
        encoder: keras.Model. Maps images `(batch, *image_shape)` to a list
            `[mean, log_var]`, each `(batch, latent_dim)`. A functional model
            (see `VAE.mlp`, `VAE.conv`) builds the VAE at once; other models
            need `vae.build((None, *image_shape))` before use.
        decoder: keras.Model. Maps `(batch, latent_dim)` to the likelihood's
            parameters: Bernoulli logits or the Gaussian mean, of the image's
            shape; with `observation_scale="decoder"`, a list `[mean, raw_scale]`
            (scale = min_scale + softplus(raw_scale)).
        likelihood: str or `tfvae.likelihoods.Likelihood`. Which p(x|z), and so
            what the figures mean:
            - "bernoulli": binary pixels (values in [0, 1]; grey levels are
              accepted as targets, but the -ELBO is then no bound on a
              probability). On binary data the -ELBO and `log_likelihood` bound
              -log p(x) in nats.
            - "discretized_gaussian": 8-bit images scaled to [0, 1] (the 256
              levels k/255, checked): each level gets the Gaussian's mass on its
              bin, so the -ELBO is a true bound on -log P(x) of the discrete
              images, comparable in bits/dim. The choice for grey-level data.
            - "gaussian": a density on continuous data. On 8-bit pixels it is
              not a likelihood of the data (a density can exceed 1, so it is no
              bound and has no bits/dim); use it for real-valued data.
            A `tfvae.likelihoods.DiscretizedGaussian(num_bins)` object scores
            data of other bit depths.
            - "discretized_logistic_mixture": PixelCNN++'s mixture of
              discretised logistics per pixel (5 components; an object sets
              another number), channels modelled jointly: the likelihood for
              8-bit colour images. The decoder gives the mixture's parameters
              per pixel (the builders size it; see
              `tfvae.likelihoods.DiscretizedLogisticMixture`).
        observation_scale: float, str or None. Gaussian kinds only: a fixed
            standard deviation (float > 0), "learned" (one trainable scale per
            dimension; the default) or "decoder" (the decoder's second output,
            an unconstrained value per pixel). Learned and decoder scales are
            `min_scale + softplus(raw)`, so they never fall below `min_scale`.
            Must be None for "bernoulli".
        min_scale: float > 0. Floor of learned and decoder scales. Without one,
            a pixel that is constant in the training data (67 of MNIST's 784
            are always 0) lets the Gaussian objective fall without bound.
        beta: float. Initial weight of the KL term in the training objective
            (beta-VAE); it lives in the non-trainable weight `kl_beta`, which
            `tfvae.callbacks.BetaSchedule` can change during training. The
            reported `loss` is always the true -ELBO (beta = 1).
        kl_warmup_steps: int. When > 0 the KL weight grows linearly from
            beta / kl_warmup_steps to beta over this many optimizer steps.
        num_importance_samples: int >= 1. k of the training objective: 1 is the
            ELBO; k > 1 is the IWAE bound log (1/k) sum_i p(x, z_i) / q(z_i|x)
            (Burda et al., 2016), which `fit` maximises and `fit`/`evaluate`
            report as `loss` (its negative, in nats per example), with
            `reconstruction` and `kl` the means over the k samples of
            -log p(x|z_i) and log q(z_i|x) - log p(z_i). The k samples of a batch
            go through the decoder together (k times the batch's memory). With
            beta != 1 (or a warm-up) each log weight is
            log p(x|z) + beta (log p(z) - log q(z|x)).
        prior: "standard" (N(0, I), or the class means of `conditioning`),
            "mixture": a learned mixture of `num_prior_components` diagonal
            Gaussians (weights, means and variances trained with the rest), or
            "vamp": the VampPrior (Tomczak & Welling, 2018), the equal-weight
            mixture of the posteriors q(z|u_k) of `num_prior_components`
            learned pseudo-inputs u_k (images, each pixel a sigmoid of a
            weight). Both: the KL by its one-sample Monte Carlo estimate at
            the decoded z; `sample` and the exported signatures draw from the
            prior. Not with classes. The VampPrior needs a KL warm-up
            (`kl_warmup_steps`), as in its paper: without one its posterior
            collapses onto the prior in the first epoch on MNIST (KL 0), and
            `fit` warns.
        num_prior_components: int >= 1. K of the mixture or the VampPrior (the
            paper uses 500 pseudo-inputs on MNIST).
        posterior_flow: int >= 0. Steps of an inverse autoregressive flow
            (Kingma et al., 2016; `tfvae.layers.InverseAutoregressiveFlow`)
            after the encoder's Gaussian: z_T = IAF(z_0; context), the context
            being the encoder's mean and log-variance, and
            log q(z_T|x) = log N(z_0; mean, var) - log |det dz_T/dz_0|. The KL
            is then the one-sample estimate at z_T, `log_likelihood` uses the
            flow's density, and the deterministic paths (`reconstruct`,
            `predict`, the exported `reconstruct`) decode IAF(mean). `encode`
            still gives the Gaussian's (mean, log_var). 0: no flow. Not with
            `gradient_estimator="dreg"` (the flow's weights are q's too).
        posterior_flow_units: widths of each flow step's MADE.
        second_latent_dim: int or None. A second stochastic layer z2 of this
            size above z (the IWAE paper's two-layer architecture):
            p(z2) = N(0, I), p(z | z2) and q(z2 | z) diagonal Gaussians from tanh
            MLPs of `second_hidden_units`; the KL, `log_likelihood` and the IWAE
            objective then hold both layers' terms, and `sample` draws z2, then
            z. Not with classes or another prior. With the ELBO it needs a KL
            warm-up (`kl_warmup_steps`): without one its likelihood stalls far
            above what it reaches with one, and `fit` warns.
        second_hidden_units: widths of those two MLPs.
        gradient_estimator: "iwae" (the bound's reparameterised gradient) or
            "dreg" (Tucker et al., 2019: the encoder's gradient by the doubly
            reparameterised estimator, sum_i w~_i^2 d log w_i / dz_i dz_i/dphi,
            unbiased for the same bound with lower variance as k grows; the
            decoder's and prior's gradients as "iwae").
        validate_inputs: bool. Check images (and labels) for shape, dtype, NaN/Inf
            and range, raising `ValueError`; see `tfvae.models` for XLA.
        seed: int or None. Seed of the reparameterisation noise used in training.
        min_scale: float > 0. See `observation_scale`.
        value_range: "unit" (pixels in [0, 1]) or "centered" ([-0.5, 0.5],
            Gaussian likelihood only): the range of the training data, kept in
            the config for samplers, image writers and exported models.
        num_classes: int >= 2 or None. A conditional VAE on integer labels in
            [0, num_classes): data are `(images, labels)` pairs and `sample`,
            `encode`, `decode` and `log_likelihood` take labels.
        conditioning: how a conditional VAE uses the label y:
            - "inputs": the one-hot label is a second input of encoder and
              decoder, q(z|x, y) and p(x|z, y), and the prior stays N(0, I)
              (Sohn et al., 2015; Kingma et al., 2014, M2 with observed labels).
            - "prior_mean": each class has its own learned prior mean mu_y
              with unit variance, p(z|y) = N(mu_y, I); the networks see only
              images and latents, the KL is 1/2 sum((mu - mu_y)^2 + sigma^2
              - log sigma^2 - 1), and class y is generated by decoding
              z ~ N(mu_y, I).
        **kwargs: base `keras.Model` arguments (`name`, ...).

    Call arguments:
        inputs: images `(batch, *image_shape)`, or `(images, labels)` for a
            conditional VAE.
        training: bool. When True the latent is sampled, otherwise the posterior
            mean is decoded.

    Returns:
        `call` returns the mean of p(x|z) (pixel probabilities for Bernoulli),
        shaped like the input. `fit`/`evaluate` report `loss` (-ELBO),
        `reconstruction` (-E_q log p(x|z)) and `kl`, all in nats per example.

    Example:

    >>> import keras, tfvae
    >>> x = tfvae.data.load_arrays("binarized_mnist", "train", limit=1000)
    >>> vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=0)
    >>> vae.compile(keras.optimizers.Adam(1e-3))
    >>> history = vae.fit(x, batch_size=100, epochs=2, verbose=0)
    >>> sorted(history.history)
    ['kl', 'loss', 'reconstruction']
    >>> log_px = vae.log_likelihood(x[:100], num_samples=10)  # IWAE bound on log p(x), nats per image
    >>> tuple(log_px.shape), bool(keras.ops.all(log_px < 0))
    ((100,), True)
    >>> tuple(vae.sample(4, seed=0).shape)
    (4, 28, 28, 1)
    """

    _nested = ("encoder", "decoder")
    # jit_compile="auto": no XLA. On CPU, XLA trained the MLP VAE at a median 0.87x
    # and the conv VAE at 0.77x the speed without it over six runs of
    # benchmarks/bench_throughput.py (docs/benchmarks.md, "XLA on CPU").
    jit_compile_default = False

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        observation_scale=None,
        beta=1.0,
        kl_warmup_steps=0,
        validate_inputs=True,
        seed=None,
        min_scale=1e-3,
        num_importance_samples=1,
        gradient_estimator="iwae",
        prior="standard",
        num_prior_components=10,
        posterior_flow=0,
        posterior_flow_units=(256,),
        second_latent_dim=None,
        second_hidden_units=(100, 100),
        value_range="unit",
        num_classes=None,
        conditioning="inputs",
        **kwargs,
    ):
        kwargs.setdefault("name", "vae")
        super().__init__(**kwargs)
        for arg, net in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(f"`{arg}` must be a keras.Model or Layer; received {arg}={net!r}.")
        likelihood = likelihoods.get(likelihood, LIKELIHOODS, type(self).__name__)
        if not likelihood.has_scale and observation_scale is not None:
            raise ValueError(
                "`observation_scale` applies to the Gaussian likelihood only; received "
                f"observation_scale={observation_scale!r} with likelihood={likelihood.name!r}."
            )
        min_scale = check_positive_number(min_scale, "min_scale")
        if likelihood.has_scale:
            if observation_scale is None:
                observation_scale = "learned"
            valid_str = observation_scale in ("learned", "decoder")
            valid_num = (
                isinstance(observation_scale, numbers.Real)
                and not isinstance(observation_scale, bool)
                and math.isfinite(observation_scale)
                and observation_scale > 0
            )
            if not (valid_str or valid_num):
                raise ValueError(
                    "`observation_scale` must be a float > 0, 'learned' or 'decoder'; received "
                    f"observation_scale={observation_scale!r}."
                )
            if valid_num:
                observation_scale = float(observation_scale)
        check_value_range(value_range, f"likelihood={likelihood.name!r}" if likelihood.unit_range_only else None)
        if not isinstance(beta, numbers.Real) or not beta >= 0:
            raise ValueError(f"`beta` must be a number >= 0; received beta={beta!r}.")
        kl_warmup_steps = check_int(kl_warmup_steps, "kl_warmup_steps", 0)
        num_importance_samples = check_int(num_importance_samples, "num_importance_samples", 1)
        if gradient_estimator not in GRADIENT_ESTIMATORS:
            raise ValueError(f"`gradient_estimator` must be one of {GRADIENT_ESTIMATORS}; received "
                             f"gradient_estimator={gradient_estimator!r}.")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"`conditioning` must be one of {CONDITIONINGS}; received conditioning={conditioning!r}.")
        self.num_classes = None if num_classes is None else check_num_classes(num_classes)
        self.conditioning = conditioning
        if prior not in PRIORS:
            raise ValueError(f"`prior` must be one of {PRIORS}; received prior={prior!r}.")
        if prior != "standard" and self.num_classes is not None:
            raise ValueError(f"prior={prior!r} has no classes; received num_classes="
                             f"{self.num_classes} (use conditioning='prior_mean' for a mean per class).")
        self.prior = prior
        self.num_prior_components = check_int(num_prior_components, "num_prior_components", 1)
        self.posterior_flow = check_int(posterior_flow, "posterior_flow", 0)
        self.posterior_flow_units = check_positive_ints(posterior_flow_units, "posterior_flow_units")
        if self.posterior_flow and gradient_estimator == "dreg":
            raise ValueError("gradient_estimator='dreg' stops q's parameters, and a posterior flow's weights are "
                             f"q's: not supported together; received posterior_flow={self.posterior_flow}.")
        if second_latent_dim is not None:
            second_latent_dim = check_positive_int(second_latent_dim, "second_latent_dim")
            if self.num_classes is not None or prior != "standard":
                raise ValueError("A second stochastic layer is the prior of z: it goes with neither classes nor "
                                 f"prior={prior!r}; received second_latent_dim={second_latent_dim}.")
            if gradient_estimator == "dreg":
                raise ValueError("gradient_estimator='dreg' stops q's parameters, and q(z2 | z) is q's too: not "
                                 f"supported with a second stochastic layer; received second_latent_dim="
                                 f"{second_latent_dim}.")
        self.second_latent_dim = second_latent_dim
        self.second_hidden_units = check_positive_ints(second_hidden_units, "second_hidden_units")
        self.flow = (InverseAutoregressiveFlow(self.posterior_flow, self.posterior_flow_units, name="posterior_flow")
                     if self.posterior_flow else None)
        # The priors' weights are made in build(): read when the prior is used.
        if second_latent_dim is not None:
            self.second_seed_generator = keras.random.SeedGenerator(seed)
            self._prior = HierarchicalPrior(self._second_inference, self._second_generative, second_latent_dim,
                                            self.second_seed_generator)
        elif prior == "mixture":
            self._prior = MixturePrior(lambda: (self.prior_logits, self.prior_component_means,
                                                self.prior_component_log_vars))
        elif prior == "vamp":
            self._prior = MixturePrior(self._vamp_components)
        else:
            self._prior = GaussianPrior(self.num_classes, (lambda: self.prior_means) if (
                self.num_classes is not None and conditioning == "prior_mean") else None)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.observation_scale = observation_scale
        self.min_scale = min_scale
        self.value_range = value_range
        self.beta = float(beta)
        self.kl_warmup_steps = kl_warmup_steps
        self.num_importance_samples = num_importance_samples
        self.gradient_estimator = gradient_estimator
        self.validate_inputs = bool(validate_inputs)
        self.seed = seed
        self.sampler = GaussianSampler(seed=seed, name="sampler")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._latent_shape = None
        self._image_shape = None
        self._iw_fn = None
        self._build_from_networks()

    # ----------------------------------------------------------------- builders
    @classmethod
    def mlp(
        cls,
        input_shape,
        latent_dim,
        hidden_units=networks.MLP_UNITS,
        activation=networks.MLP_ACTIVATION,
        **kwargs,
    ):
        """The AEVB paper's MLP encoder and decoder (tanh hidden layers).

        Args:
            input_shape: shape of one image, e.g. `(28, 28, 1)`.
            latent_dim: int. Number of latent dimensions.
            hidden_units: int or tuple of ints. Hidden layer widths.
            activation: activation of the hidden layers.
            **kwargs: the class's arguments (`likelihood`, `observation_scale`, ...); with
                `observation_scale="decoder"` the decoder gets a second head for the scale.
        """
        units = networks.as_units(hidden_units)
        num_classes = _builder_num_classes(kwargs)
        encoder = networks.mlp_encoder(input_shape, latent_dim, units, activation, num_classes)
        decoder = networks.mlp_decoder(
            _decoder_output_shape(input_shape, kwargs), latent_dim, units, activation, num_classes,
            two_heads=kwargs.get("observation_scale") == "decoder",
        )
        return cls(encoder, decoder, **kwargs)

    @classmethod
    def conv(
        cls,
        input_shape,
        latent_dim,
        filters=networks.CONV_FILTERS,
        hidden_units=networks.CONV_HIDDEN_UNITS,
        **kwargs,
    ):
        """Strided-convolution encoder and a transposed-convolution decoder.

        Args:
            input_shape: `(H, W, C)`.
            latent_dim: int. Number of latent dimensions.
            filters: tuple of ints. One stride-2 convolution per entry.
            hidden_units: int. Width of the dense layer.
            **kwargs: the class's arguments (`likelihood`, `observation_scale`, ...), as in `VAE.mlp`.
        """
        num_classes = _builder_num_classes(kwargs)
        filters = networks.as_units(filters)
        encoder = networks.conv_encoder(input_shape, latent_dim, filters, int(hidden_units), num_classes)
        decoder = networks.conv_decoder(
            _decoder_output_shape(input_shape, kwargs), latent_dim, filters, int(hidden_units), num_classes,
            two_heads=kwargs.get("observation_scale") == "decoder",
        )
        return cls(encoder, decoder, **kwargs)

    @classmethod
    def resnet(
        cls,
        input_shape,
        latent_channels=4,
        downsample_factor=4,
        base_filters=networks.RESNET_BASE_FILTERS,
        max_filters=networks.RESNET_MAX_FILTERS,
        num_blocks=networks.RESNET_BLOCKS,
        attention=True,
        dropout=0.0,
        **kwargs,
    ):
        """A VAE with a spatial latent z of shape (H / f, W / f, `latent_channels`), as latent diffusion's
        KL-regularised autoencoder: residual blocks with GroupNorm and SiLU, self-attention at the lowest
        resolution, q(z|x) and the KL per latent element (summed, in nats), for colour images of 32x32 and up.

        Args:
            input_shape: `(H, W, C)`, H and W divisible by `downsample_factor`.
            latent_channels: int. Channels of the latent grid.
            downsample_factor: power of 2: the latent grid is (H / f, W / f).
            base_filters: int. Width of the first level.
            max_filters: int. Width of the widest level.
            num_blocks: residual blocks per level (the decoder has one more).
            attention: bool. Self-attention in the middle of both networks.
            dropout: float in [0, 1) inside the residual blocks.
            **kwargs: the class's arguments (`likelihood`, `beta`, ...). The networks take no labels: a
                conditional model needs `conditioning="prior_mean"` (a learned prior mean per class, of the
                latent's shape). `observation_scale="decoder"` is not offered.

        Example:

        >>> import tfvae
        >>> vae = tfvae.VAE.resnet((32, 32, 3), latent_channels=4, downsample_factor=4, base_filters=16,
        ...                        max_filters=32, num_blocks=1, likelihood="discretized_logistic_mixture")
        >>> vae.latent_shape
        (8, 8, 4)
        """
        if _builder_num_classes(kwargs) is not None:
            raise ValueError("VAE.resnet's networks take no labels: give conditioning='prior_mean' with "
                             "num_classes (a learned prior mean per class).")
        if kwargs.get("observation_scale") == "decoder":
            raise ValueError("VAE.resnet has no decoder head for the scale; received observation_scale='decoder' "
                             "(use 'learned', a float, or likelihood='discretized_logistic_mixture').")
        latent_channels = check_positive_int(latent_channels, "latent_channels")
        arch = networks.resnet_arch(downsample_factor, base_filters, max_filters, num_blocks, attention, dropout)
        encoder = networks.resnet_encoder(input_shape, latent_channels, gaussian=True, **arch)
        decoder = networks.resnet_decoder(input_shape, latent_channels,
                                          out_channels=_decoder_output_shape(input_shape, kwargs)[-1], **arch)
        return cls(encoder, decoder, **kwargs)

    # ------------------------------------------------------------ conditioning
    @property
    def _labels_into_networks(self):
        return self.num_classes is not None and self.conditioning == "inputs"

    def _one_hot(self, labels):
        return ops.one_hot(ops.cast(labels, "int32"), self.num_classes)

    def _encoder_inputs(self, x, labels):
        return [x, self._one_hot(labels)] if self._labels_into_networks else x

    def _decoder_inputs(self, z, labels):
        return [z, self._one_hot(labels)] if self._labels_into_networks else z

    def _split_call_inputs(self, inputs):
        if self.num_classes is None:
            return inputs, None
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                f"A conditional {type(self).__name__} is called on a pair (images, labels); received "
                f"{type(inputs).__name__} of length {len(inputs) if isinstance(inputs, (tuple, list)) else 1}."
            )
        return inputs[0], inputs[1]

    def _build_input_shape(self, image_shape):
        return (None, *image_shape) if self.num_classes is None else [(None, *image_shape), (None,)]

    def _unpack(self, data):
        """Images, or (images, labels) for a conditional VAE, from what `fit` passes."""
        if self.num_classes is None:
            # `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`: y is ignored.
            return (data[0] if isinstance(data, (tuple, list)) else data), None
        x, labels = split_labels(data)
        if labels is None:
            raise ValueError(
                f"A conditional {type(self).__name__} trains on (images, labels) pairs, e.g. "
                "tfvae.data.load(name, split, batch_size, with_labels=True); received a single tensor."
            )
        return x, labels

    def _check_labels(self, labels, batch_size, who, required=None):
        """Checked labels; None where they are not needed (q(z|x) and p(x|z) with prior means)."""
        if required is None:
            required = self._labels_into_networks
        if self.num_classes is None or (labels is None and not required):
            return None if self.num_classes is None else labels
        if not self.validate_inputs:
            return labels
        return check_labels(labels, self.num_classes, batch_size, who)

    def _label_spec(self):
        return keras.KerasTensor((1,), "int32") if self._labels_into_networks else None

    # ------------------------------------------------------------------- build
    def _build_from_networks(self):
        shape = networks.static_input_shape(self.encoder)
        if shape is not None and all(d is not None for d in shape):
            self.build(self._build_input_shape(shape))

    def build(self, input_shape):
        if self.built:
            return
        image_shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)[1:]
        self._image_shape = image_shape
        latent_shape = networks.static_input_shape(self.decoder)
        if latent_shape is None:
            enc_in = self._encoder_inputs(keras.KerasTensor((1, *image_shape)), self._label_spec())
            latent_shape = tuple(self.encoder.compute_output_spec(enc_in)[0].shape[1:])
        self._latent_shape = tuple(int(d) for d in latent_shape)
        # A variable, not a constant of the compiled step, so that callbacks can schedule it.
        self.kl_beta = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.beta), trainable=False, name="kl_beta",
            dtype="float32",
        )
        if self.observation_scale == "learned":
            # Starts at scale 1: min_scale + softplus(raw) = 1.
            raw = math.log(math.expm1(1.0 - self.min_scale))
            self.raw_scale = self.add_weight(
                shape=image_shape, initializer=keras.initializers.Constant(raw), name="raw_scale", dtype="float32"
            )
        if self.num_classes is not None and self.conditioning == "prior_mean":
            # Spread at the start, so that the classes' codes are pulled apart from the first step.
            self.prior_means = self.add_weight(
                shape=(self.num_classes, *self._latent_shape),
                initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed), name="prior_means",
                dtype="float32",
            )
        if self.prior == "mixture":
            # Means spread at the start, so that the components differ; unit variances, equal weights.
            k, dims = self.num_prior_components, int(np.prod(self._latent_shape))
            self.prior_logits = self.add_weight(shape=(k,), initializer="zeros", name="prior_logits",
                                                dtype="float32")
            self.prior_component_means = self.add_weight(
                shape=(k, dims), initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed),
                name="prior_component_means", dtype="float32")
            self.prior_component_log_vars = self.add_weight(shape=(k, dims), initializer="zeros",
                                                            name="prior_component_log_vars", dtype="float32")
        if self.flow is not None:
            dims = int(np.prod(self._latent_shape))
            self.flow.build([(None, dims), (None, 2 * dims)])
        if self.second_latent_dim is not None:
            dims = int(np.prod(self._latent_shape))
            self.second_inference = networks.gaussian_mlp(dims, self.second_hidden_units, self.second_latent_dim,
                                                          "second_inference")
            self.second_generative = networks.gaussian_mlp(self.second_latent_dim, self.second_hidden_units, dims,
                                                           "second_generative")
        if self.prior == "vamp":
            # Pixels sigmoid(0.1 N(0, 1)): grey images near the middle of the range at the start.
            self.pseudo_inputs = self.add_weight(
                shape=(self.num_prior_components, *image_shape),
                initializer=keras.initializers.RandomNormal(stddev=0.1, seed=self.seed), name="pseudo_inputs",
                dtype="float32")
        self.sampler.build([(None, *self._latent_shape)] * 2)

    # The second layer's networks are made in build(): the prior calls them through these methods. (Two
    # lambdas on one line instead made AutoGraph warn, at every trace, that it could not convert them.)
    def _second_inference(self, t):
        return self.second_inference(t)

    def _second_generative(self, t):
        return self.second_generative(t)

    def _vamp_components(self):
        """The VampPrior's (logits, means, log_vars): the encoder's posteriors of the pseudo-inputs."""
        mean, log_var = self._posterior(self.pseudo_images, None)
        k = self.num_prior_components
        return ops.zeros((k,)), ops.reshape(mean, (k, -1)), ops.reshape(log_var, (k, -1))

    @property
    def pseudo_images(self):
        """The VampPrior's pseudo-inputs as images `(K, *image_shape)` (None for other priors)."""
        if self.prior != "vamp":
            return None
        low, high = self.value_bounds
        return low + (high - low) * ops.sigmoid(self.pseudo_inputs)

    @property
    def latent_shape(self):
        """Shape of one latent: `(latent_dim,)`, or `(h, w, channels)` for a spatial latent."""
        return self._latent_shape

    @property
    def latent_dim(self):
        """Number of latent dimensions (h * w * channels for a spatial latent)."""
        return None if self._latent_shape is None else int(np.prod(self._latent_shape))

    def _require_built(self, who):
        if not self.built:
            raise ValueError(
                f"{who}: the model is not built; call model.build((None, *image_shape)) "
                "or call it on a batch first."
            )

    # ----------------------------------------------------------------- pieces
    def _posterior(self, x, labels, training=False):
        out = self.encoder(self._encoder_inputs(x, labels), training=training)
        if not isinstance(out, (list, tuple)) or len(out) != 2:
            raise ValueError(
                f"The encoder must return [mean, log_var]; it returned {type(out).__name__} "
                f"{getattr(out, 'shape', '')}."
            )
        return ops.cast(out[0], "float32"), ops.cast(out[1], "float32")

    def _bounded_log_scale(self, raw):
        return ops.log(self.min_scale + ops.softplus(ops.cast(raw, "float32")))

    def _params(self, z, labels, training=False):
        """Likelihood parameters: (logits, None) or (mean, log_scale)."""
        out = self.decoder(self._decoder_inputs(z, labels), training=training)
        if not self.likelihood.has_scale:
            return out, None
        if self.observation_scale == "decoder":
            mean, log_scale = out[0], self._bounded_log_scale(out[1])
        elif self.observation_scale == "learned":
            mean, log_scale = out, self._bounded_log_scale(self.raw_scale)
        else:
            mean, log_scale = out, math.log(self.observation_scale)
        return mean, log_scale

    def _log_px(self, x, params):
        loc, log_scale = params
        return -self.likelihood.negative_log_likelihood(x, loc, log_scale)

    def _mean_of(self, params):
        return self.likelihood.mean(*params)

    def _flowed(self, z0, mean, log_var):
        """`(z, log_det)`: latents z0 `(n, *latent_shape)` through the posterior flow (with the posterior's mean and
        log-variance, rows matching z0's, as context); z0 and zeros without a flow."""
        if self.flow is None:
            return z0, ops.zeros((ops.shape(z0)[0],), "float32")
        n = ops.shape(z0)[0]
        context = ops.concatenate([ops.reshape(mean, (n, -1)), ops.reshape(log_var, (n, -1))], axis=-1)
        z, log_det = self.flow([ops.reshape(z0, (n, -1)), context])
        return ops.reshape(z, (n, *self.latent_shape)), log_det

    def _decoded_mean_of_posterior(self, x, labels):
        """Decoder outputs at the posterior's deterministic point: the mean, through the flow if there is one."""
        mean, log_var = self._posterior(x, labels)
        return self._params(self._flowed(mean, mean, log_var)[0], labels)

    def _elbo_terms(self, x, labels, training):
        mean, log_var = self._posterior(x, labels, training)
        z0 = self.sampler([mean, log_var], seed=None if training else self.evaluation_seed)
        z, log_det = self._flowed(z0, mean, log_var)
        reconstruction = -self._log_px(x, self._params(z, labels, training))
        prior_seed = None if training else self.evaluation_seed + 1
        if self.flow is None:
            kl = self._prior.kl(mean, log_var, labels, z, seed=prior_seed)
        else:  # one-sample estimate: log q(z_T|x) - log p(z_T)
            batch = ops.shape(mean)[0]
            flat = [ops.reshape(t, (batch, -1)) for t in (z0, mean, log_var)]
            kl = (losses.diagonal_gaussian_log_prob(*flat) - log_det
                  - self._prior.log_prob(ops.reshape(z, (batch, -1)), labels, seed=prior_seed))
        return reconstruction, kl

    @property
    def _importance_weighted(self):
        return self.num_importance_samples > 1 or self.gradient_estimator != "iwae"

    def _importance_terms(self, x, labels, training):
        """log p(x|z_i), log p(z_i|y), log q(z_i|x) and log q(z_i|x) at stopped encoder outputs, each `(k, batch)`,
        for k = `num_importance_samples` reparameterised draws z_i, decoded together."""
        k = self.num_importance_samples
        mean, log_var = self._posterior(x, labels, training)

        def repeated(t):  # (batch, ...) -> (k * batch, ...), sample-major
            return ops.reshape(ops.tile(t[None], (k,) + (1,) * len(t.shape)), (-1, *t.shape[1:]))

        z0 = self.sampler([repeated(mean), repeated(log_var)], seed=None if training else self.evaluation_seed)
        z, log_det = self._flowed(z0, repeated(mean), repeated(log_var))
        log_px = ops.reshape(self._log_px(repeated(x), self._params(z, None if labels is None else repeated(labels),
                                                                    training)), (k, -1))
        flat_z0, flat_z = ops.reshape(z0, (k, -1, self.latent_dim)), ops.reshape(z, (k, -1, self.latent_dim))
        mean, log_var = ops.reshape(mean, (-1, self.latent_dim)), ops.reshape(log_var, (-1, self.latent_dim))
        log_det = ops.reshape(log_det, (k, -1))
        log_q = losses.diagonal_gaussian_log_prob(flat_z0, mean, log_var) - log_det
        log_q_stopped = losses.diagonal_gaussian_log_prob(flat_z0, ops.stop_gradient(mean),
                                                          ops.stop_gradient(log_var)) - log_det
        log_pz = self._prior.log_prob(flat_z, labels, seed=None if training else self.evaluation_seed + 1)
        return log_px, log_pz, log_q, log_q_stopped

    def _importance_step(self, x, labels, training, tape=None, batch_size=None):
        """The IWAE objective's figures per example; with a tape, also one optimizer step on it."""
        log_px, log_pz, log_q, log_q_stopped = self._importance_terms(x, labels, training)
        report = dict(loss=-losses.importance_weighted_bound(log_px + log_pz - log_q),
                      reconstruction=-ops.mean(log_px, axis=0), kl=ops.mean(log_q - log_pz, axis=0))
        if tape is not None:
            weight = self._kl_weight()
            log_w = log_px + weight * (log_pz - log_q)
            objective = -losses.importance_weighted_bound(log_w)
            if self.gradient_estimator == "dreg":
                encoder = self.encoder.trainable_variables
                mine = {id(v) for v in encoder}
                rest = [v for v in self.trainable_variables if id(v) not in mine]
                surrogate = losses.dreg_encoder_surrogate(log_w, log_px + weight * (log_pz - log_q_stopped))
                self._minimize_parts(tape, [(surrogate, encoder), (objective, rest)], batch_size)
            else:
                self._minimize(tape, objective, batch_size)
        return report

    def _checked(self, x, labels, who, require_labels=None):
        """Validated float images and int32 labels (labels None for the plain VAE).

        `require_labels`: whether labels must be given; None: where the networks see them.
        """
        self._require_built(who)
        if not self.validate_inputs:
            x = tf.convert_to_tensor(x)
            return x, (None if labels is None else tf.convert_to_tensor(labels))
        value_range = (0.0, 1.0) if self.likelihood.unit_range_only else None
        x = check_image_batch(x, self.image_shape, value_range, who, levels=self.likelihood.num_levels)
        return x, self._check_labels(labels, x.shape[0], who, require_labels)

    def _kl_beta_now(self):
        """kl_beta's current value as a float, also while a step function is being traced."""
        with tf.init_scope():  # out of the graph being traced, to read the variable's value
            return float(ops.convert_to_numpy(self.kl_beta))

    def _kl_weight(self):
        if self.kl_warmup_steps <= 0:
            return ops.convert_to_tensor(self.kl_beta)
        step = ops.cast(self.optimizer.iterations, "float32") + 1.0
        return self.kl_beta * ops.minimum(1.0, step / float(self.kl_warmup_steps))

    # ------------------------------------------------------------- keras API
    def call(self, inputs, training=False):
        x, labels = self._split_call_inputs(inputs)
        mean, log_var = self._posterior(x, labels, training)
        z = self.sampler([mean, log_var]) if training else mean
        return self._mean_of(self._params(self._flowed(z, mean, log_var)[0], labels, training))

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def _check_step_data(self, data, who):
        return self._checked(*self._unpack(data), who)

    def _collapse_without_warmup(self):
        """What goes wrong when this model trains without a KL warm-up (None where nothing was measured to)."""
        if self.prior == "vamp":
            return ("a VAE with the VampPrior and no KL warm-up (kl_warmup_steps=0) usually collapses onto its prior "
                    "in the first epoch (KL 0, every image decoded alike)")
        if self.second_latent_dim is not None and not self._importance_weighted:
            return ("a VAE with two stochastic layers trained with the ELBO and no KL warm-up (kl_warmup_steps=0) "
                    "stalls far above the likelihood it reaches with one (on binarised MNIST, worse than the "
                    "one-layer VAE: docs/benchmarks.md, Likelihood records)")
        return None

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        collapse = self._collapse_without_warmup()
        if collapse is not None and self.kl_warmup_steps <= 0 and self._kl_beta_now() >= 1.0:
            # Runs while Keras traces the step (once, not per batch), after the callbacks' on_*_begin hooks:
            # a warm-up by `BetaSchedule` has set kl_beta below 1 by then and silences the warning.
            warnings.warn(f"{who}: {collapse}; pass kl_warmup_steps (the VampPrior paper and "
                          "benchmarks/bench_likelihood.py warm up over 100 epochs) or warm up with "
                          "tfvae.callbacks.BetaSchedule.", UserWarning, stacklevel=2)
        x, labels = self._check_step_data(data, who)
        (x, labels), n = check_replica_batch((x, labels), who)
        if self._importance_weighted:
            # Two gradients from one forward pass with DReG: the tape must be persistent.
            with tf.GradientTape(persistent=self.gradient_estimator == "dreg") as tape:
                report = self._importance_step(x, labels, True, tape, n)
            return self._report(**report)
        with tf.GradientTape() as tape:
            reconstruction, kl = self._elbo_terms(x, labels, training=True)
            self._minimize(tape, reconstruction + self._kl_weight() * kl, n)
        return self._report(loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        (x, labels), _ = check_replica_batch(self._check_step_data(data, who), who)
        if self._importance_weighted:
            return self._report(**self._importance_step(x, labels, False))
        reconstruction, kl = self._elbo_terms(x, labels, training=False)
        return self._report(loss=reconstruction + kl, reconstruction=reconstruction, kl=kl)

    def predict_step(self, data):
        x, labels = self._check_step_data(data, f"{type(self).__name__}.predict")
        return self._mean_of(self._decoded_mean_of_posterior(x, labels))

    # ------------------------------------------------------------ public API
    def encode(self, x, labels=None):
        """Posterior parameters `(mean, log_var)`, each `(batch, latent_dim)`."""
        x, labels = self._checked(x, labels, f"{type(self).__name__}.encode")
        return self._posterior(x, labels)

    def decode(self, z, labels=None):
        """Mean of p(x|z) for latents `(batch, latent_dim)`: pixel probabilities or Gaussian means.

        Labels are needed where the decoder sees them (`conditioning="inputs"`).
        """
        who = f"{type(self).__name__}.decode"
        self._require_built(who)
        z = check_image_batch(z, self.latent_shape, None, who)
        if self._labels_into_networks:
            labels = self._check_labels(labels, z.shape[0], who)
        return self._mean_of(self._params(z, labels))

    def reconstruct(self, x, labels=None, sample_latent=False, seed=None):
        """Decodes the posterior mean of each image (or a posterior sample when `sample_latent`)."""
        x, labels = self._checked(x, labels, f"{type(self).__name__}.reconstruct")
        mean, log_var = self._posterior(x, labels)
        z = mean
        if sample_latent:
            z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=seed)
        return self._mean_of(self._params(self._flowed(z, mean, log_var)[0], labels))

    def sample(self, n, *, seed=None, labels=None):
        """Decodes `n` draws of the prior: z ~ N(0, I), or N(mu_y, I) for class y with prior means.

        Args:
            n: int. Number of images.
            labels: conditional VAE: an int, an array `(n,)`, or None for the
                classes in turn (0, 1, ..., 0, 1, ...).
            seed: int or None. The same int seed gives the same images.
        """
        who = f"{type(self).__name__}.sample"
        self._require_built(who)
        z, labels = self._prior.sample_latents(check_positive_int(n, "n"), self.latent_shape, seed, labels, who)
        return self.decode(z, labels)

    def log_likelihood(self, x, labels=None, num_samples=1000, batch_size=100, chunk_size=None, seed=None):
        """Importance-weighted estimate of log p(x) per example, in nats.

        log p(x) >= E[log (1/k) sum_i p(x, z_i) / q(z_i|x)], z_i ~ q(z|x) (the IWAE
        bound with k = `num_samples`); k = 1 is the ELBO, and the bound tightens as
        k grows. Images go through `batch_size` at a time and the k samples in
        chunks, so memory stays bounded (k=1000 on 100 MNIST images: chunks of 53
        samples, one 16 MiB decoder output each).

        Args:
            x: images `(n, *image_shape)`.
            labels: labels `(n,)` for conditional models.
            num_samples: int >= 1. k.
            batch_size: int >= 1. Images per pass.
            chunk_size: int or None. Samples per pass; None picks one from memory.
            seed: int or None. Same seed, batch_size and chunk_size: same result.

        Returns:
            NumPy float64 array `(n,)`.
        """
        num_samples = check_positive_int(num_samples, "num_samples")
        batch_size = check_positive_int(batch_size, "batch_size")
        if chunk_size is not None:
            chunk_size = check_positive_int(chunk_size, "chunk_size")
        who = f"{type(self).__name__}.log_likelihood"
        # log p(x|y) needs y wherever the label enters the model, the prior included.
        x, labels = self._checked(x, labels, who, require_labels=self.num_classes is not None)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if self._iw_fn is None:
            self._iw_fn = tf.function(self._iw_log_weights, reduce_retracing=True)
        n = int(x.shape[0])
        dims = math.prod(self.image_shape)
        out = np.empty(n, dtype=np.float64)
        call = 0
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size]
            lb = None if labels is None else labels[start : start + batch_size]
            b = int(xb.shape[0])
            chunk = chunk_size or max(1, min(num_samples, _IW_CHUNK_ELEMENTS // (b * dims)))
            total = np.full(b, -np.inf)
            for s in range(0, num_samples, chunk):
                m = min(chunk, num_samples - s)
                log_w = self._iw_fn(xb, lb, tf.constant(m), tf.constant([seed, call], tf.int32))
                total = np.logaddexp(total, _logsumexp0(log_w.numpy().astype(np.float64)))
                call += 1
            out[start : start + b] = total - math.log(num_samples)
        return out

    def _iw_log_weights(self, x, labels, num, seed):
        """log p(x, z_i) - log q(z_i|x) for `num` samples: `(num, batch)`."""
        mean, log_var = self._posterior(x, labels)
        batch = tf.shape(x)[0]
        # Latents flattened to (batch, D): a spatial latent's densities are sums over all its elements.
        mean, log_var = tf.reshape(mean, [batch, self.latent_dim]), tf.reshape(log_var, [batch, self.latent_dim])
        eps = tf.random.stateless_normal(tf.stack([num, batch, self.latent_dim]), seed)
        z0 = mean + tf.exp(0.5 * log_var) * eps
        tiled = [tf.reshape(tf.tile(t[None], [num, 1, 1]), [-1, self.latent_dim]) for t in (mean, log_var)]
        flat_z, log_det = self._flowed(tf.reshape(z0, [-1, *self.latent_shape]), *tiled)
        z = tf.reshape(flat_z, [num, batch, self.latent_dim])
        x_rep = tf.reshape(
            tf.tile(x[None], tf.concat([[num], tf.ones([tf.rank(x)], tf.int32)], 0)),
            tf.concat([[-1], tf.shape(x)[1:]], 0),
        )
        l_rep = None if labels is None else tf.reshape(tf.tile(labels[None], [num, 1]), [-1])
        log_px_z = tf.reshape(self._log_px(x_rep, self._params(flat_z, l_rep)), [num, batch])
        # The second layer's draws get their own stateless key (the first's are eps').
        log_pz = self._prior.log_prob(z, labels, seed=tf.stack([seed[0] + 7919, seed[1]]))
        log_q = losses.diagonal_gaussian_log_prob(z0, mean, log_var) - tf.reshape(log_det, [num, batch])
        return log_px_z + log_pz - log_q

    # ---------------------------------------------------------------- serving
    def serving_functions(self):
        """The model's serving signatures: `{name: tf.function}` with named, typed, batch-dynamic inputs.

        `serving_default` (images -> reconstruction), `encode` (images -> mean,
        log_var), `decode` (latent -> images), `sample` (one int64 seed per image
        -> images) and `sample_from_noise` (N(0, 1) noise -> images); each takes
        an extra int32 `label` input for a conditional model. These are what
        `tfvae.export` writes into SavedModels and TFLite files; calling them runs
        the model itself. Inputs are not range-checked (graphs for serving).
        """
        # Labels are inputs wherever the networks see them; with prior means only sampling needs one.
        label = [_signatures.spec((None,), tf.int32, "label")] if self._labels_into_networks else []
        images = [_signatures.spec((None, *self.image_shape), tf.float32, "images"), *label]

        def decode_mean(z, labels):
            return self._mean_of(self._params(z, labels))

        def reconstruct(images, *labels):
            labels = labels[0] if labels else None
            return {"reconstruction": self._mean_of(self._decoded_mean_of_posterior(images, labels))}

        def encode(images, *labels):
            mean, log_var = self._posterior(images, labels[0] if labels else None)
            return {"mean": mean, "log_var": log_var}

        def decode(latent, *labels):
            return {"images": decode_mean(latent, labels[0] if labels else None)}

        return {
            "serving_default": _signatures.signature(reconstruct, images),
            "encode": _signatures.signature(encode, images),
            "decode": _signatures.signature(decode, [_signatures.spec((None, *self.latent_shape), tf.float32, "latent"),
                                                     *label]),
            **self._prior.serving_functions(lambda z, labels: {"images": decode_mean(z, labels)}, self.latent_shape),
        }

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(
            self._nested_config(),
            likelihood=likelihoods.serialize(self.likelihood),
            observation_scale=self.observation_scale,
            min_scale=self.min_scale,
            value_range=self.value_range,
            beta=self.beta,
            kl_warmup_steps=self.kl_warmup_steps,
            num_importance_samples=self.num_importance_samples,
            gradient_estimator=self.gradient_estimator,
            prior=self.prior,
            num_prior_components=self.num_prior_components,
            posterior_flow=self.posterior_flow,
            posterior_flow_units=list(self.posterior_flow_units),
            second_latent_dim=self.second_latent_dim,
            second_hidden_units=list(self.second_hidden_units),
            validate_inputs=self.validate_inputs,
            seed=self.seed,
            num_classes=self.num_classes,
            conditioning=self.conditioning,
        )
        return config



def _logsumexp0(a):
    m = np.max(a, axis=0)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.sum(np.exp(a - m), axis=0))
