"""Gated PixelCNN prior over grids of discrete codes."""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers, ops

from tfvae._checks import (
    check_int,
    check_jit_compile,
    check_num_classes,
    check_positive_int,
    check_positive_number,
    check_seed,
)
from tfvae._input_checks import check_codes, check_labels, check_replica_batch, check_sample_labels, split_labels
from tfvae.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from tfvae.models.base import BaseModel
from tfvae.models.bucketed_sampler import BucketedSampler

tfd = tfp.distributions



def _inverse_cdf_draw(logits, temperature, uniform):
    """Inverse-CDF draw from softmax(logits / temperature), one uniform in [0, 1) per row.

    The code is the first whose cumulative probability exceeds `uniform` (codes
    of probability 0 are never picked). One number per position is what makes
    `PixelCNNPrior.sample_from_noise` a plain U(0, 1) input of shape `(n, h * w)`.
    """
    probs = tf.nn.softmax(tf.cast(logits, tf.float32) / temperature, axis=-1)
    cdf = tf.cumsum(probs, axis=-1)
    below = tf.cast(cdf <= uniform[:, None] * cdf[:, -1:], tf.int32)
    return tf.minimum(tf.reduce_sum(below, axis=-1), tf.shape(logits)[-1] - 1)


@keras.saving.register_keras_serializable(package="tfvae")
class PixelCNNPrior(BaseModel):
    """Autoregressive prior p(c) = prod_ij p(c_ij | c_<ij) over integer code grids.

    The prior of the VQ-VAE (van den Oord et al., 2017) as a gated PixelCNN
    without blind spot (van den Oord et al., *Conditional Image Generation with
    PixelCNN Decoders*, 2016): codes are embedded, pass through
    `GatedPixelCNNBlock`s (the first with mask "A"), and the summed skip outputs
    plus the last horizontal output go through two 1x1 convolutions to logits
    over the `num_embeddings` codes at every position. The likelihood is the
    TensorFlow Probability distribution
    `tfd.Independent(tfd.Categorical(logits), reinterpreted_batch_ndims=2)`;
    training minimises its negative log-probability, reported as `loss` (nats
    per grid) and `bits_per_code`.

    `sample` draws grids by ancestral sampling inside one compiled `tf.function`
    that computes each position of each stack once: a `tf.while_loop` over rows
    runs one row of every vertical stack (from the few rows above it that the
    causal kernel keeps), and an inner loop over columns runs one position of
    every horizontal stack and of the output head (in the spirit of
    Ramachandran et al., *Fast Generation for Convolutional Autoregressive
    Models*, 2017): about one forward pass in all, where the naive sampler
    (`sample_naive`, the reference) runs one full pass per position. The masked
    convolutions themselves only multiply the kernel entries their masks keep
    (`MaskedConv2D`), in training too. Position p is an inverse-CDF draw from
    its conditional distribution with the p-th of `h * w` uniform numbers drawn
    from the seed (Philox), so a seed fixes the grid with or without XLA,
    `sample_from_noise` with the same numbers gives the same grid, and so does
    `sample_naive`. `benchmarks/bench_prior.py` measures the samplers.

    Args:
        grid_shape: (int, int). Height and width of the code grids.
        num_embeddings: int >= 2. Number of codes K.
        filters: int. Channels of the gated blocks.
        num_layers: int. Number of gated blocks.
        kernel_size: int, odd. Width of the blocks' convolutions.
        num_classes: int or None. Condition on class labels.
        validate_inputs: bool. Check codes and labels.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        inputs: int codes `(batch, h, w)`, or `(codes, labels)` when conditional.

    Returns:
        Logits `(batch, h, w, num_embeddings)` (float32).

    Example:

    >>> import keras, numpy as np, tfvae
    >>> codes = np.random.default_rng(0).integers(0, 128, (256, 7, 7)).astype("int32")  # e.g. vqvae.encode(x)
    >>> prior = tfvae.PixelCNNPrior((7, 7), num_embeddings=128, filters=32, num_layers=2)
    >>> prior.compile(keras.optimizers.Adam(1e-3))
    >>> history = prior.fit(codes, batch_size=64, epochs=1, verbose=0)
    >>> grids = prior.sample(4, seed=0)  # new code grids; vqvae.decode(grids) makes them images
    >>> tuple(grids.shape), grids.dtype.name
    ((4, 7, 7), 'int32')
    """

    # jit_compile="auto" with validate_inputs=False: XLA. On CPU it trained a median
    # 1.52x as fast as without it over six runs of benchmarks/bench_throughput.py
    # (1.00x to 2.32x; docs/benchmarks.md, "XLA on CPU"). With validation on (the default) XLA
    # would drop the value checks, so "auto" then means no XLA (BaseModel.compile).
    jit_compile_default = True

    def __init__(self, grid_shape, num_embeddings, filters=64, num_layers=8, kernel_size=3,
                 num_classes=None, validate_inputs=True, **kwargs):
        kwargs.setdefault("name", "pixelcnn_prior")
        super().__init__(**kwargs)
        grid_shape = tuple(grid_shape) if isinstance(grid_shape, (list, tuple)) else grid_shape
        if not (isinstance(grid_shape, tuple) and len(grid_shape) == 2
                and all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in grid_shape)):
            raise ValueError(
                f"`grid_shape` must be two positive ints (height, width); received grid_shape={grid_shape!r}."
            )
        self.grid_shape = tuple(int(d) for d in grid_shape)
        self.num_embeddings = check_int(num_embeddings, "num_embeddings", 2)
        self.filters = check_positive_int(filters, "filters")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.num_classes = None if num_classes is None else check_num_classes(num_classes)
        self.validate_inputs = bool(validate_inputs)
        self.embedding = layers.Embedding(self.num_embeddings, self.filters, name="code_embedding")
        self.blocks = [
            GatedPixelCNNBlock(self.filters, self.kernel_size, first=i == 0, num_classes=self.num_classes,
                               name=f"gated_block_{i}")
            for i in range(self.num_layers)
        ]
        self.head_hidden = layers.Conv2D(self.filters, 1, activation="relu", name="head_hidden")
        self.head_logits = layers.Conv2D(self.num_embeddings, 1, name="head_logits")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_code")
        self._sampler = BucketedSampler(self._sample_loop, math.prod(self.grid_shape))
        self._logits_fn = None
        self._image_shape = None  # a prior models code grids, not images
        self.build(self._input_shape())

    def _input_shape(self):
        shape = (None, *self.grid_shape)
        return [shape, (None,)] if self.num_classes else shape

    def build(self, input_shape):
        if self.built:
            return
        h, w = self.grid_shape
        self.embedding.build((None, h, w))
        for block in self.blocks:
            block.build([(None, h, w, self.filters)] * 2)
        self.head_hidden.build((None, h, w, self.filters))
        self.head_logits.build((None, h, w, self.filters))

    # ----------------------------------------------------------------- network
    def _label(self, labels):
        if self.num_classes is None:
            return None
        return ops.one_hot(ops.cast(labels, "int32"), self.num_classes)

    def _vertical(self, embedded, label):
        """Per block, the horizontal stack's feed for every row: list of `(B, h, w, 2f)`."""
        feeds, v = [], embedded
        for block in self.blocks:
            v, feed = block.vertical(v, label)
            feeds.append(feed)
        return feeds

    def _horizontal(self, embedded_rows, feeds, label):
        """Logits of the given rows from their embeddings and the matching feed rows."""
        h, skips = embedded_rows, 0.0
        for block, feed in zip(self.blocks, feeds):
            h, skip = block.horizontal(h, feed, label)
            skips = skips + skip
        # The last horizontal output joins the skips, so every block's weights are used.
        return ops.cast(self.head_logits(self.head_hidden(ops.relu(skips + h))), "float32")

    def _logits(self, codes, labels=None):
        embedded = self.embedding(codes)
        label = self._label(labels)
        return self._horizontal(embedded, self._vertical(embedded, label), label)

    def call(self, inputs, training=False):
        codes, labels = (inputs[0], inputs[1]) if self.num_classes else (inputs, None)
        return self._logits(codes, labels)

    # ---------------------------------------------------------------- checks
    def _checked(self, codes, labels, who):
        if not self.validate_inputs:
            codes = tf.cast(codes, tf.int32)
            return codes, (None if labels is None else tf.cast(labels, tf.int32))
        codes = check_codes(codes, self.grid_shape, self.num_embeddings, who)
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(f"{who}: this prior is unconditional; received labels.")
            return codes, None
        return codes, check_labels(labels, self.num_classes, codes.shape[0], who)

    def _unpack(self, data):
        codes, labels = split_labels(data)
        return codes, (labels if self.num_classes else None)  # an unconditional prior ignores y

    # -------------------------------------------------------------- likelihood
    def distribution(self, codes, labels=None):
        """The TFP distribution over grids given by the logits at `codes`.

        Its `log_prob(codes)` is the model's log-likelihood of `codes`; other
        grids get a meaningless value, since the logits are conditioned on `codes`.
        """
        codes, labels = self._checked(codes, labels, f"{type(self).__name__}.distribution")
        return self._distribution(self._logits(codes, labels))

    @staticmethod
    def _distribution(logits):
        return tfd.Independent(tfd.Categorical(logits=logits), reinterpreted_batch_ndims=2)

    def log_prob(self, codes, labels=None):
        """log p(codes) in nats per grid, shape `(batch,)`."""
        codes, labels = self._checked(codes, labels, f"{type(self).__name__}.log_prob")
        return self._distribution(self._logits(codes, labels)).log_prob(codes)

    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_tracker]

    def _check_step_data(self, data, who):
        return self._checked(*self._unpack(data), who)

    def _nll(self, codes, labels):
        """Per-grid negative log-likelihood `(batch,)` in nats."""
        return -self._distribution(self._logits(codes, labels)).log_prob(codes)

    def _report_nll(self, nll):
        return self._report(loss=nll, bits_per_code=nll / (math.prod(self.grid_shape) * math.log(2.0)))

    def train_step(self, data):
        who = f"{type(self).__name__}.fit"
        (codes, labels), n = check_replica_batch(self._check_step_data(data, who), who)
        with tf.GradientTape() as tape:
            nll = self._nll(codes, labels)
            self._minimize(tape, nll, n)
        return self._report_nll(nll)

    def test_step(self, data):
        who = f"{type(self).__name__}.evaluate"
        (codes, labels), _ = check_replica_batch(self._check_step_data(data, who), who)
        return self._report_nll(self._nll(codes, labels))

    def predict_step(self, data):
        codes, labels = self._check_step_data(data, f"{type(self).__name__}.predict")
        return self._logits(codes, labels)

    # ---------------------------------------------------------------- sampling
    def _sample_args(self, n, seed, temperature, labels, who):
        check_positive_int(n, "n")
        temperature = check_positive_number(temperature, "temperature")
        seed = check_seed(seed)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(f"{who}: this prior is unconditional; received labels.")
            labels = np.zeros((n,), np.int32)
        else:
            labels = check_sample_labels(labels, n, self.num_classes, who)
        return int(seed), float(temperature), tf.cast(labels, tf.int32)

    def sample(self, n, *, seed=None, labels=None, temperature=1.0, jit_compile="auto"):
        """Draws `n` code grids by ancestral sampling in one compiled function.

        Args:
            n: int. Number of grids.
            seed: int or None. The same seed gives the same grids.
            temperature: float > 0. Divides the logits (< 1: sharper).
            labels: int, ints `(n,)` or None (conditional priors: classes in turn).
            jit_compile: bool or "auto". True: the XLA sampler (faster warm on
                CPU, but its first call for a bucket of batch sizes compiles).
                False: the graph sampler, traced once. "auto": XLA once it is
                compiled for the request's bucket, the graph sampler until then
                while XLA compiles in a background thread, so that no call
                waits for a compilation (`benchmarks/bench_prior.py` measures
                both; docs/benchmarks.md, "Prior sampling").

        Returns:
            int32 tensor `(n, h, w)`.

        The two samplers compute the same numbers in different kernels; they gave
        the same grids in every test and benchmark, but float rounding could in
        principle move a draw that falls on a boundary of the inverse CDF. Pass
        `jit_compile=True` or `False` when grids must be reproducible bit for bit
        across calls.
        """
        who = f"{type(self).__name__}.sample"
        seed, temperature, labels = self._sample_args(n, seed, temperature, labels, who)
        check_jit_compile(jit_compile)
        return self._sampler(self._noise(n, seed), tf.constant(temperature, tf.float32), labels, jit_compile)

    def _noise(self, n, seed):
        # Philox explicitly: the default algorithm differs between XLA and TF kernels,
        # and the same seed must give the same grid either way.
        return tf.random.stateless_uniform([n, math.prod(self.grid_shape)], seed=[seed, 0], alg="philox")

    def sample_from_noise(self, noise, temperature=1.0, labels=None):
        """Ancestral sampling from given uniform noise `(n, h * w)` in [0, 1), one value per position.

        Position p takes the inverse-CDF draw of `noise[:, p]` from its
        conditional softmax(logits / temperature), so the same noise gives the
        same grid on any device and runtime; `sample(n, seed)` is this with
        Philox noise from `seed`. This is what exported `sample` signatures run.
        """
        noise = tf.convert_to_tensor(noise, tf.float32)
        labels = tf.zeros(tf.shape(noise)[:1], tf.int32) if labels is None else tf.cast(labels, tf.int32)
        return self._sample_loop(noise, tf.cast(temperature, tf.float32), labels)

    def _sample_loop(self, noise, temperature, labels):
        """Ancestral sampling computing each position of each stack once.

        A loop over rows holds, per block, the last `kernel_size // 2` rows of the
        vertical stack's input and the horizontal feeds of the current row; a loop
        over the row's columns holds, per block, the last `kernel_size // 2` inputs
        of the horizontal stack. Each position then costs one position of every
        horizontal stack and of the output head, each row one row of every
        vertical stack: together one forward pass of the network. Weights are
        read once, outside the loops (`GatedPixelCNNBlock.step_weights`).
        """
        height, width = self.grid_shape
        half, f = self.kernel_size // 2, self.filters
        n = tf.shape(noise)[0]

        def shift_in(window, new, size, axis=-1):
            """`window` without its oldest `size` entries along `axis`, `new` appended."""
            if window.shape[axis] == size:  # kernel_size 3: the window is one entry
                return new
            if window.shape[axis] == 0:
                return window
            return tf.concat([window[:, size:] if axis == 1 else window[..., size:], new], axis=axis)

        dtype = self.embedding.compute_dtype
        label = self._label(labels)
        weights = [block.step_weights(label, dtype) for block in self.blocks]
        table = ops.cast(self.embedding.embeddings, dtype)
        hidden_kernel = ops.cast(self.head_hidden.kernel[0, 0], dtype)
        hidden_bias = ops.cast(self.head_hidden.bias, dtype)
        logits_kernel = ops.cast(self.head_logits.kernel[0, 0], dtype)
        logits_bias = ops.cast(self.head_logits.bias, dtype)

        def row_step(i, codes, v_rows, feeds):
            def column_step(j, row_codes, h_previous):
                x = tf.zeros(tf.stack([n, f]), dtype)  # mask "A": the first block never reads (i, j)
                skips, new_previous = 0.0, []
                for block, w, previous, feed in zip(self.blocks, weights, h_previous, feeds):
                    out, skip = block.horizontal_step(previous, x, tf.gather(feed, j, axis=1), w)
                    new_previous.append(shift_in(previous, x, f))
                    skips, x = skips + skip, out
                hidden = tf.nn.relu(tf.matmul(tf.nn.relu(skips + x), hidden_kernel) + hidden_bias)
                logits = tf.matmul(hidden, logits_kernel) + logits_bias
                drawn = _inverse_cdf_draw(logits, temperature, tf.gather(noise, i * width + j, axis=1))
                row_codes = tf.where(tf.one_hot(j, width, on_value=True, off_value=False)[None], drawn[:, None],
                                     row_codes)
                # The first block's horizontal input at (i, j) is the code just drawn.
                new_previous[0] = shift_in(h_previous[0], tf.gather(table, drawn), f)
                return j + 1, row_codes, new_previous

            h_previous = [tf.zeros(tf.stack([n, half * f]), dtype) for _ in self.blocks]
            row_codes = tf.zeros(tf.stack([n, width]), tf.int32)
            _, row_codes, _ = tf.while_loop(lambda j, *_: j < width, column_step, [0, row_codes, h_previous])
            codes = tf.where(tf.one_hot(i, height, on_value=True, off_value=False)[None, :, None],
                             row_codes[:, None], codes)
            # The vertical stacks on row i, now final: the feeds of row i + 1.
            x = tf.gather(table, row_codes)[:, None]
            new_rows, new_feeds = [], []
            for block, w, rows in zip(self.blocks, weights, v_rows):
                window = tf.concat([rows, x], axis=1)
                new_rows.append(shift_in(rows, x, 1, axis=1))
                x, feed = block.vertical_step(window, w)
                new_feeds.append(feed)
            return i + 1, codes, new_rows, new_feeds

        codes = tf.zeros(tf.stack([n, height, width]), tf.int32)
        v_rows = [tf.zeros(tf.stack([n, half, width, f]), dtype) for _ in self.blocks]
        # Row 0's feed: the vertical stack above the grid is zeros (the shift of `vertical`).
        above = tf.zeros(tf.stack([n, width, 2 * f]), dtype)
        feeds = [block.horizontal_feed(above, w) for block, w in zip(self.blocks, weights)]
        return tf.while_loop(lambda i, *_: i < height, row_step, [0, codes, v_rows, feeds])[1]

    def sample_naive(self, n, *, seed=None, labels=None, temperature=1.0):
        """Reference sampler: a Python loop with one full forward pass per position.

        Slow on purpose; `sample` must give the same grids for the same seed.
        """
        seed, temperature, labels = self._sample_args(n, seed, temperature, labels,
                                                      f"{type(self).__name__}.sample_naive")
        if self._logits_fn is None:
            self._logits_fn = tf.function(self._logits, reduce_retracing=True)
        height, width = self.grid_shape
        noise = self._noise(n, seed)
        codes = np.zeros((n, height, width), np.int32)
        for position in range(height * width):
            i, j = divmod(position, width)
            logits = self._logits_fn(tf.constant(codes), labels)[:, i, j]
            codes[:, i, j] = _inverse_cdf_draw(logits, tf.constant(temperature), noise[:, position]).numpy()
        return tf.constant(codes)

    def get_config(self):
        return {
            **super().get_config(),
            "grid_shape": list(self.grid_shape),
            "num_embeddings": self.num_embeddings,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "num_classes": self.num_classes,
            "validate_inputs": self.validate_inputs,
        }
