"""The VQ-VAE of Neural Discrete Representation Learning."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae import likelihoods
from tfvae._checks import check_int, check_positive_number, check_value_range
from tfvae._input_checks import check_codes, check_image_batch, check_replica_batch
from tfvae.layers.finite_scalar_quantizer import FiniteScalarQuantizer
from tfvae.layers.lookup_free_quantizer import LookupFreeQuantizer
from tfvae.layers.quantizer import Quantizer
from tfvae.layers.residual_vector_quantizer import ResidualVectorQuantizer
from tfvae.layers.vector_quantizer import COMMITMENT_COST, DECAY, VectorQuantizer
from tfvae.layers.vector_quantizer_ema import VectorQuantizerEMA
from tfvae.metrics import CodebookPerplexity, CodebookUsage
from tfvae.models import _signatures, networks
from tfvae.models.base import BaseModel, renamed_attribute

LIKELIHOODS = ("mean_squared_error", "bernoulli")
# tfvae 0.1's `reconstruction=` values that today have other names.
_OLD_NAMES = {"mse": "mean_squared_error"}
QUANTIZERS = {"vq": VectorQuantizer, "ema": VectorQuantizerEMA, "fsq": FiniteScalarQuantizer,
              "lfq": LookupFreeQuantizer, "rvq": ResidualVectorQuantizer}
# Levels of quantizer="rvq" when `num_quantizers` is not given.
RVQ_LEVELS = 4
# FSQ's levels for a codebook size (Mentzer et al., 2023, table 1), used when `levels` is not given.
FSQ_LEVELS = {2**8: (8, 6, 5), 2**10: (8, 5, 5, 5), 2**12: (7, 5, 5, 5, 5), 2**14: (8, 8, 8, 6, 5),
              2**16: (8, 8, 8, 5, 5, 5)}


@keras.saving.register_keras_serializable(package="tfvae")
class VQVAE(BaseModel):
    """Vector-quantised autoencoder: encoder, codebook, decoder.

    Follows van den Oord et al., *Neural Discrete Representation Learning*
    (NeurIPS 2017). The encoder maps an image to a grid of vectors
    `(h, w, embedding_dim)`. The quantizer (`VectorQuantizer` or
    `VectorQuantizerEMA`) replaces each with its nearest codeword, passing
    gradients straight through. The decoder maps the quantised grid back to an
    image. The training loss per example is

        reconstruction + ||sg(z) - z_q||^2 + beta * ||z - sg(z_q)||^2

    where reconstruction is the mean squared error divided by `data_variance`
    (`likelihood="mean_squared_error"`, the keras.io example's normalisation)
    or, with `likelihood="bernoulli"`, the Bernoulli negative log-likelihood in
    nats (summed over pixels, for binary data). The two VQ terms are on the
    reconstruction's scale: averaged over positions and code dimensions with
    "mean_squared_error" (a mean over pixels), summed
    over them with "bernoulli" (a sum over pixels), as in eq. 3 of the paper,
    so that `commitment_cost` weighs them as the paper's beta does. The EMA
    quantizer drops the codebook term. `fit`/`evaluate`
    report `loss`, `reconstruction`, `vq_loss`, `perplexity` and
    `codebook_usage` (the latter two over the whole epoch).

    Args:
        encoder: keras.Model. Images `(batch, H, W, C)` to `(batch, h, w, D)`.
        decoder: keras.Model. `(batch, h, w, D)` to `(batch, H, W, C)`: images
            ("mean_squared_error") or logits ("bernoulli").
        quantizer: `VectorQuantizer` or `VectorQuantizerEMA` with `embedding_dim` D, a
            `FiniteScalarQuantizer` (no codebook, no VQ loss; D = the number of its levels) or a
            `LookupFreeQuantizer` (signs of D dimensions; commitment and entropy terms as its loss) or a
            `ResidualVectorQuantizer` (its D levels' indices side by side: code grids (h, w * D)).
        likelihood: "mean_squared_error" (the default) or "bernoulli", or the
            `tfvae.likelihoods` object of that name: the reconstruction term.
        data_variance: float > 0. Divides the squared error ("mean_squared_error" only).
        validate_inputs: bool. Check images and codes; see `tfvae.models`.
        value_range: "unit" ([0, 1]) or "centered" ([-0.5, 0.5], squared error only).
        reconstruction: deprecated name of `likelihood` (tfvae 0.1; "mse" is
            "mean_squared_error"), accepted with a DeprecationWarning.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: images `(batch, H, W, C)`.
        training: bool.

    Returns:
        `call` returns the reconstruction (pixel probabilities for "bernoulli"),
        shaped like the input. `encode` returns int32 codes `(batch, h, w)`;
        `decode` maps such codes to images.

    Example:

    >>> import keras, tfvae
    >>> x = tfvae.data.load_arrays("mnist", "train", limit=512)
    >>> vqvae = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16,
    ...                          data_variance=float(x.var()), seed=0)
    >>> vqvae.compile(keras.optimizers.Adam(2e-4))
    >>> history = vqvae.fit(x, batch_size=128, epochs=1, verbose=0)
    >>> codes = vqvae.encode(x[:8])
    >>> tuple(codes.shape), codes.dtype.name
    ((8, 7, 7), 'int32')
    >>> tuple(vqvae.decode(codes).shape)
    (8, 28, 28, 1)
    """

    _nested = ("encoder", "decoder", "quantizer")
    # jit_compile="auto": no XLA. On CPU, XLA was not faster: a median 0.96x
    # (plain codebook) and 1.00x (EMA) over six runs of
    # benchmarks/bench_throughput.py (docs/benchmarks.md, "XLA on CPU"), and it adds its
    # compilation to the first epoch.
    jit_compile_default = False

    _renamed_arguments = {"reconstruction": ("likelihood", _OLD_NAMES)}
    reconstruction = renamed_attribute("reconstruction", "likelihood", {v: k for k, v in _OLD_NAMES.items()})

    def __init__(self, encoder, decoder, quantizer, likelihood=None, data_variance=1.0,
                 validate_inputs=True, value_range="unit", reconstruction=None, **kwargs):
        kwargs.setdefault("name", "vqvae")
        super().__init__(**kwargs)
        for arg, net in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(net, keras.layers.Layer):
                raise ValueError(f"`{arg}` must be a keras.Model or Layer; received {arg}={net!r}.")
        if not isinstance(quantizer, Quantizer):
            raise ValueError(
                "`quantizer` must be a tfvae.layers.Quantizer (VectorQuantizer, VectorQuantizerEMA, "
                "FiniteScalarQuantizer, LookupFreeQuantizer, ResidualVectorQuantizer or a subclass); received "
                f"quantizer={quantizer!r}."
            )
        likelihood = self._renamed("reconstruction", reconstruction, likelihood)
        likelihood = likelihoods.get(LIKELIHOODS[0] if likelihood is None else likelihood, LIKELIHOODS,
                                     type(self).__name__)
        check_value_range(value_range, f"likelihood={likelihood.name!r}" if likelihood.unit_range_only else None)
        data_variance = check_positive_number(data_variance, "data_variance")
        self.encoder = encoder
        self.decoder = decoder
        self.quantizer = quantizer
        self.likelihood = likelihood
        self.data_variance = data_variance
        self.value_range = value_range
        self.validate_inputs = bool(validate_inputs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.vq_loss_tracker = keras.metrics.Mean(name="vq_loss")
        self.perplexity_tracker = CodebookPerplexity(quantizer.num_embeddings)
        self.usage_tracker = CodebookUsage(quantizer.num_embeddings)
        # Residual VQ: each level's usage too (the two above pool every level's codes).
        self.level_usage_trackers = [CodebookUsage(quantizer.num_embeddings, name=f"codebook_usage_level_{i + 1}")
                                     for i in range(getattr(quantizer, "num_quantizers", 0))]
        self._image_shape = None
        self._grid_shape = None
        shape = networks.static_input_shape(encoder)
        if shape is not None and all(d is not None for d in shape):
            self.build((None, *shape))

    @classmethod
    def conv(
        cls,
        input_shape,
        num_embeddings=128,
        embedding_dim=16,
        hidden_filters=networks.VQ_HIDDEN_FILTERS,
        residual_filters=networks.VQ_RESIDUAL_FILTERS,
        num_downsamplings=networks.VQ_DOWNSAMPLINGS,
        num_residual_blocks=networks.VQ_RESIDUAL_BLOCKS,
        quantizer="vq",
        commitment_cost=COMMITMENT_COST,
        decay=DECAY,
        dead_code_steps=None,
        seed=None,
        levels=None,
        num_quantizers=None,
        **kwargs,
    ):
        """The paper's residual convolutional encoder and decoder around a codebook.

        Args:
            input_shape: `(H, W, C)`.
            num_embeddings: int. Codebook size K.
            embedding_dim: int. Code size D.
            hidden_filters: int. Width of the conv layers.
            residual_filters: int. Width of the residual blocks' inner layers.
            num_downsamplings: stride-2 steps; the code grid is H / 2^n by W / 2^n.
            num_residual_blocks: residual blocks in encoder and decoder.
            quantizer: "vq" (codebook by gradient), "ema" (moving averages), "fsq"
                (`FiniteScalarQuantizer`: `levels`, or the paper's levels for a `num_embeddings` of
                2^8, 2^10, 2^12, 2^14 or 2^16; `embedding_dim` is then the number of levels, and the
                encoder applies a LayerNorm before its last projection) or "lfq"
                (`LookupFreeQuantizer` with log2(`num_embeddings`) dimensions) or "rvq"
                (`ResidualVectorQuantizer`: `num_quantizers` EMA levels of `num_embeddings` codes, 4 by
                default), or a quantizer layer.
            commitment_cost: float. Weight of the commitment loss (codebook and lookup-free quantizers).
            decay: float. Moving averages' decay ("ema", "rvq").
            dead_code_steps: int or None. Restart codes unused for this many steps (codebook quantizers).
            seed: int or None. Seeds the codebook's initialisation and restarts.
            levels: FSQ's levels per dimension ("fsq" only).
            num_quantizers: residual VQ's levels ("rvq" only).
            **kwargs: `VQVAE` arguments (reconstruction, data_variance, ...).
        """
        vq = cls._quantizer(quantizer, num_embeddings, embedding_dim, commitment_cost, decay, dead_code_steps, seed,
                            levels, num_quantizers)
        embedding_dim = vq.embedding_dim
        if len(input_shape) != 3:
            raise ValueError(f"VQVAE.conv needs input_shape (H, W, C); received input_shape={tuple(input_shape)}.")
        num_downsamplings = check_int(num_downsamplings, "num_downsamplings", 1)
        num_residual_blocks = check_int(num_residual_blocks, "num_residual_blocks", 0)
        arch = dict(hidden_filters=hidden_filters, residual_filters=residual_filters,
                    num_downsamplings=num_downsamplings, num_residual_blocks=num_residual_blocks)
        # FSQ's bound needs encoder outputs of order one. The paper's encoder at Keras' default
        # initialisation gives about 0.01, which all rounds to the centre level: the decoder then
        # sees zeros, its zero-bias ReLUs pass no gradient, and nothing ever trains (measured on
        # MNIST: one code in use after 600 steps). A LayerNorm before the projection, as VQGAN's
        # encoders normalise before their output convolution, puts the outputs on the grid.
        encoder = networks.vq_encoder(input_shape, embedding_dim, **arch,
                                      normalize_output=isinstance(vq, FiniteScalarQuantizer))
        decoder = networks.vq_decoder(input_shape, embedding_dim, **arch)
        return cls(encoder, decoder, vq, **kwargs)

    @classmethod
    def resnet(
        cls,
        input_shape,
        num_embeddings=1024,
        embedding_dim=8,
        downsample_factor=4,
        base_filters=networks.RESNET_BASE_FILTERS,
        max_filters=networks.RESNET_MAX_FILTERS,
        num_blocks=networks.RESNET_BLOCKS,
        attention=True,
        dropout=0.0,
        quantizer="ema",
        commitment_cost=COMMITMENT_COST,
        decay=DECAY,
        dead_code_steps=None,
        seed=None,
        levels=None,
        num_quantizers=None,
        **kwargs,
    ):
        """VQGAN's encoder and decoder (residual blocks with GroupNorm and SiLU, attention at the lowest
        resolution) around a codebook: for colour images of 32x32 and up.

        Args:
            input_shape: `(H, W, C)`, H and W divisible by `downsample_factor`.
            num_embeddings: int. Codebook size K.
            embedding_dim: int. Code size D.
            downsample_factor: power of 2: the code grid is (H / f, W / f).
            base_filters: int. Width of the first level.
            max_filters: int. Width of the widest level.
            num_blocks: residual blocks per level (the decoder has one more).
            attention: bool. Self-attention in the middle of both networks.
            dropout: float in [0, 1) inside the residual blocks.
            quantizer: as `conv`'s, the EMA codebook by default.
            commitment_cost: as `conv`'s.
            decay: as `conv`'s.
            dead_code_steps: as `conv`'s.
            seed: as `conv`'s.
            levels: as `conv`'s.
            num_quantizers: as `conv`'s.
            **kwargs: `VQVAE` arguments (likelihood, data_variance, ...).
        """
        vq = cls._quantizer(quantizer, num_embeddings, embedding_dim, commitment_cost, decay, dead_code_steps, seed,
                            levels, num_quantizers)
        embedding_dim = vq.embedding_dim
        arch = networks.resnet_arch(downsample_factor, base_filters, max_filters, num_blocks, attention, dropout)
        encoder = networks.resnet_encoder(input_shape, embedding_dim, **arch)
        decoder = networks.resnet_decoder(input_shape, embedding_dim, **arch)
        return cls(encoder, decoder, vq, **kwargs)

    @staticmethod
    def _quantizer(kind, num_embeddings, embedding_dim, commitment_cost, decay, dead_code_steps, seed, levels=None,
                   num_quantizers=None):
        """The quantizer a builder's `quantizer=` names (or the layer given)."""
        if isinstance(kind, keras.layers.Layer):
            return kind
        if kind not in QUANTIZERS:
            raise ValueError(f"`quantizer` must be one of {tuple(QUANTIZERS)} or a quantizer layer; received "
                             f"quantizer={kind!r}.")
        if levels is not None and kind != "fsq":
            raise ValueError(f"`levels` is FSQ's; received levels={levels!r} with quantizer={kind!r}.")
        if kind == "fsq":
            if levels is None and num_embeddings not in FSQ_LEVELS:
                raise ValueError(f"quantizer='fsq' needs `levels`, or a num_embeddings among {tuple(FSQ_LEVELS)} "
                                 f"(the paper's levels); received num_embeddings={num_embeddings!r}.")
            return FiniteScalarQuantizer(FSQ_LEVELS[num_embeddings] if levels is None else levels, name="quantizer")
        if kind == "rvq":
            return ResidualVectorQuantizer(RVQ_LEVELS if num_quantizers is None else num_quantizers, num_embeddings,
                                           embedding_dim, commitment_cost=commitment_cost, decay=decay,
                                           dead_code_steps=dead_code_steps, seed=seed, name="quantizer")
        if num_quantizers is not None:
            raise ValueError(f"`num_quantizers` is residual VQ's; received num_quantizers={num_quantizers!r} with "
                             f"quantizer={kind!r}.")
        if kind == "lfq":
            whole = isinstance(num_embeddings, numbers.Integral) and num_embeddings > 1
            dim = int(np.log2(num_embeddings)) if whole else 0
            if 2**dim != num_embeddings:
                raise ValueError(f"quantizer='lfq' has 2^d codes; received num_embeddings={num_embeddings!r}, not a "
                                 "power of 2.")
            return LookupFreeQuantizer(dim, commitment_cost=commitment_cost, name="quantizer")
        q_args = dict(commitment_cost=commitment_cost, dead_code_steps=dead_code_steps, seed=seed, name="quantizer")
        if kind == "ema":
            q_args["decay"] = decay
        return QUANTIZERS[kind](num_embeddings, embedding_dim, **q_args)

    def build(self, input_shape):
        if self.built:
            return
        self._image_shape = tuple(input_shape)[1:]
        z_shape = tuple(self.encoder.compute_output_shape((1, *self._image_shape)))
        depth = self._code_depth
        # Residual VQ's D indices per position lie side by side along the grid's width, in level order, so
        # a code grid is (h, w * D) and the prior, the bound and the exports model them in that order.
        self._grid_shape = z_shape[1:-1] if depth is None else (z_shape[1], z_shape[2] * depth)
        if not self.quantizer.built:
            self.quantizer.build(z_shape)

    @property
    def _code_depth(self):
        """Indices per position: residual VQ's number of levels, None for one index per position."""
        return getattr(self.quantizer, "num_quantizers", None)

    def _codes_of(self, z):
        """The code grid `(batch, *grid_shape)` of encoder outputs `z`."""
        codes = self.quantizer.get_code_indices(z)
        if self._code_depth is None:
            return codes
        shape = ops.shape(codes)
        return ops.reshape(codes, (shape[0], shape[1], shape[2] * shape[3]))

    def _codewords_of(self, codes):
        """The quantised decoder input of a code grid `(batch, *grid_shape)`."""
        depth = self._code_depth
        if depth is not None:
            shape = ops.shape(codes)
            codes = ops.reshape(codes, (shape[0], shape[1], shape[2] // depth, depth))
        return self.quantizer.lookup(codes)

    @property
    def grid_shape(self):
        """Shape of one code grid `(h, w)`."""
        return self._grid_shape

    @property
    def num_embeddings(self):
        return self.quantizer.num_embeddings

    # ----------------------------------------------------------------- pieces
    def _check_images(self, x, who):
        if not self.built:
            raise ValueError(f"{who}: the model is not built; call model.build((None, H, W, C)) first.")
        if not self.validate_inputs:
            return tf.convert_to_tensor(x)
        value_range = (0.0, 1.0) if self.likelihood.unit_range_only else None
        return check_image_batch(x, self.image_shape, value_range, who)

    def _check_codes(self, codes, who):
        return check_codes(codes, self.grid_shape, self.num_embeddings, who)

    def _reconstruction_loss(self, x, decoded):
        nll = self.likelihood.negative_log_likelihood(x, decoded)
        # The keras.io example's normalisation: the squared error in units of the data's variance.
        return nll if self.likelihood.is_probability else nll / self.data_variance

    def _forward(self, x, training):
        z = self.encoder(x, training=training)
        details = self.quantizer.quantize_details(z, training=training)
        decoded = self.decoder(details["quantized"], training=training)
        return decoded, details

    # ------------------------------------------------------------- keras API
    def call(self, inputs, training=False):
        decoded, _ = self._forward(inputs, training)
        return self.likelihood.mean(decoded)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.vq_loss_tracker,
                self.perplexity_tracker, self.usage_tracker, *self.level_usage_trackers]

    def _code_figures(self, indices):
        """The code metrics' inputs, by tracker name, from a step's indices."""
        figures = {"perplexity": indices, "codebook_usage": indices}
        for i, tracker in enumerate(self.level_usage_trackers):
            figures[tracker.name] = indices[..., i]
        return figures

    @staticmethod
    def _images_of(data):
        return data[0] if isinstance(data, (tuple, list)) else data

    def _check_step_data(self, data, who):
        return self._check_images(self._images_of(data), who)

    def _terms(self, x, training):
        """Per-example reconstruction and VQ terms `(batch,)`, and the codes."""
        decoded, details = self._forward(x, training=training)
        vq_loss = details["loss"]
        if self.likelihood.is_probability:
            # The Bernoulli term is a sum over pixels (nats per image), so the codebook and
            # commitment terms are sums over positions and dimensions too, as in eq. 3 of the
            # paper; averaged, beta would weigh them h * w * D times less against it.
            vq_loss = vq_loss * float(np.prod(details["quantized"].shape[1:]))
        return self._reconstruction_loss(x, decoded), vq_loss, details["indices"]

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        x, n = check_replica_batch(self._check_step_data(data, who), who)
        with tf.GradientTape() as tape:
            reconstruction, vq_loss, indices = self._terms(x, training=True)
            self._minimize(tape, reconstruction + vq_loss, n)
        return self._report(loss=reconstruction + vq_loss, reconstruction=reconstruction, vq_loss=vq_loss,
                            **self._code_figures(indices))

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        x, _ = check_replica_batch(self._check_step_data(data, who), who)
        reconstruction, vq_loss, indices = self._terms(x, training=False)
        return self._report(loss=reconstruction + vq_loss, reconstruction=reconstruction, vq_loss=vq_loss,
                            **self._code_figures(indices))

    def predict_step(self, data):
        x = self._check_step_data(data, f"{type(self).__name__}.predict")
        return self(x, training=False)

    # ------------------------------------------------------------ public API
    def encode(self, x):
        """Int32 code grid `(batch, h, w)` of images `(batch, H, W, C)`."""
        x = self._check_images(x, f"{type(self).__name__}.encode")
        return self._codes_of(self.encoder(x, training=False))

    def decode(self, codes):
        """Images `(batch, H, W, C)` of int codes `(batch, h, w)` in [0, num_embeddings)."""
        codes = self._check_codes(codes, f"{type(self).__name__}.decode")
        return self.likelihood.mean(self.decoder(self._codewords_of(codes), training=False))

    def reconstruction_log_likelihood(self, x, codes=None, observation_scale=None, num_bins=256):
        """log p(x | z_q) in nats per image: the decoder's likelihood of images given their codes.

        "bernoulli" models: the Bernoulli likelihood of the decoder's logits
        (binary images only). "mean_squared_error" models: a discretised
        Gaussian over the `num_bins` levels of [0, 1] centred on the
        reconstruction, with standard deviation `observation_scale` (required;
        fit it on training data, e.g. `tfvae.generative.observation_scale`).
        Both are probabilities of the discrete images, so they enter a bound on
        -log p(x); data they cannot score (grey levels for Bernoulli, values off
        the levels or outside [0, 1], e.g. centred data, for the Gaussian) raise
        `ValueError`.

        Args:
            x: images `(batch, H, W, C)`.
            codes: int codes `(batch, h, w)`, or None for `encode(x)`.
            observation_scale: float > 0 ("mean_squared_error" only).
            num_bins: int. Levels of the discretised Gaussian.

        Returns:
            float32 tensor `(batch,)`.
        """
        who = f"{type(self).__name__}.reconstruction_log_likelihood"
        x = self._check_images(x, who)
        likelihood, log_scale = self.discrete_likelihood(observation_scale, num_bins, who)
        likelihood.check_data(x, who)
        codes = self._codes_of(self.encoder(x, training=False)) if codes is None else \
            self._check_codes(codes, who)
        decoded = self.decoder(self._codewords_of(codes), training=False)
        return -likelihood.negative_log_likelihood(x, decoded, log_scale)

    def discrete_likelihood(self, observation_scale=None, num_bins=256, who=None):
        """The likelihood of discrete images that `reconstruction_log_likelihood` uses, and its log scale.

        The model's own for "bernoulli" (then `observation_scale` must be None);
        for "mean_squared_error" a `DiscretizedGaussian(num_bins)` with the
        given scale (a float > 0, required).

        Returns:
            `(likelihood, log_scale)`, `log_scale` None for "bernoulli".
        """
        who = who or f"{type(self).__name__}.discrete_likelihood"
        if self.likelihood.is_probability:
            if observation_scale is not None:
                raise ValueError(f"{who}: observation_scale applies to 'mean_squared_error' models; received "
                                 f"observation_scale={observation_scale!r} for a {self.likelihood.name!r} model.")
            return self.likelihood, None
        try:
            observation_scale = check_positive_number(observation_scale, "observation_scale")
        except ValueError:
            raise ValueError(f"{who}: a 'mean_squared_error' model needs observation_scale > 0 (e.g. sqrt of the "
                             f"training MSE); received observation_scale={observation_scale!r}.") from None
        return likelihoods.DiscretizedGaussian(num_bins), float(np.log(observation_scale))

    def reconstruct(self, x):
        """decode(encode(x))."""
        x = self._check_images(x, f"{type(self).__name__}.reconstruct")
        return self(x, training=False)

    # ---------------------------------------------------------------- serving
    def serving_functions(self, prior=None, sample_temperature=1.0):
        """The model's serving signatures: `{name: tf.function}` with named, typed, batch-dynamic inputs.

        `serving_default` (images -> reconstruction), `encode` (images -> codes)
        and `decode` (codes -> images); with a `PixelCNNPrior` of this model's
        codes also `sample` (one int64 seed per image -> images, codes) and
        `sample_from_noise` (U(0, 1) noise, one value per code position ->
        images, codes), each with an int32 `label` input when the prior is
        conditional. These are what `tfvae.export` writes into SavedModels and
        TFLite files; calling them runs the models themselves.

        Args:
            prior: `PixelCNNPrior` or None.
            sample_temperature: float > 0. The prior's temperature in `sample`.
        """
        from tfvae.generative import check_compatible
        from tfvae.models.pixelcnn_prior import PixelCNNPrior

        images = [_signatures.spec((None, *self.image_shape), tf.float32, "images")]

        def reconstruct(images):
            return {"reconstruction": self(images, training=False)}

        def encode(images):
            return {"codes": self._codes_of(self.encoder(images, training=False))}

        def decode(codes):
            return {"images": self.likelihood.mean(self.decoder(self._codewords_of(codes), training=False))}

        functions = {
            "serving_default": _signatures.signature(reconstruct, images),
            "encode": _signatures.signature(encode, images),
            "decode": _signatures.signature(decode, [_signatures.spec((None, *self.grid_shape), tf.int32, "codes")]),
        }
        if prior is None:
            return functions
        if not isinstance(prior, PixelCNNPrior):
            raise ValueError(f"`prior` must be a PixelCNNPrior or None; received {type(prior).__name__}.")
        temperature = check_positive_number(sample_temperature, "sample_temperature")
        check_compatible(self, prior)
        positions = int(np.prod(prior.grid_shape))
        label = [_signatures.spec((None,), tf.int32, "label")] if prior.num_classes else []

        def sample_from_noise(noise, *labels):
            codes = prior.sample_from_noise(noise, temperature, labels[0] if labels else None)
            return {"images": decode(codes)["images"], "codes": codes}

        def sample(seed, *labels):
            return sample_from_noise(_signatures.per_seed(seed, [positions], "uniform"), *labels)

        functions["sample"] = _signatures.signature(sample, [_signatures.spec((None,), tf.int64, "seed"), *label])
        functions["sample_from_noise"] = _signatures.signature(
            sample_from_noise, [_signatures.spec((None, positions), tf.float32, "noise"), *label])
        return functions

    # ---------------------------------------------------------- serialisation
    def get_config(self):
        config = super().get_config()
        config.update(
            self._nested_config(),
            likelihood=likelihoods.serialize(self.likelihood),
            data_variance=self.data_variance,
            value_range=self.value_range,
            validate_inputs=self.validate_inputs,
        )
        return config

