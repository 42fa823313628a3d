"""Vector quantisation with a straight-through or rotated gradient: the VQ-VAE paper's codebook and its options."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae import losses
from tfvae._checks import check_int, check_real, check_seed
from tfvae._input_checks import check_lookup_indices
from tfvae.layers.quantizer import Quantizer

# State written inside a replica (EMA statistics, restarts): every replica computes
# the same value from all-reduced statistics, so the first replica's write suffices.
REPLICA_WRITTEN = "only_first_replica"
# The paper's commitment weight beta (van den Oord et al., 2017, section 3.2) and its EMA decay (appendix A.1).
COMMITMENT_COST = 0.25
DECAY = 0.99


GRADIENTS = ("ste", "rotation")


def _l2_normalize(x):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), 1e-12))


def _rotation_trick(e, q):
    """sg(lambda R) e for rows e and codewords q (Fifty et al., 2024, eq. 4.2): R = I - 2 r r^T + 2 q^ e^^T
    takes e^ = e / |e| to q^ = q / |q| (r the normalised e^ + q^) and lambda = |q| / |e|, so the value is q
    (up to rounding, which the last line removes) while the gradient is rotated and rescaled with it."""
    e_norm = ops.sqrt(ops.maximum(ops.sum(ops.square(e), axis=-1, keepdims=True), 1e-12))
    q_norm = ops.sqrt(ops.maximum(ops.sum(ops.square(q), axis=-1, keepdims=True), 1e-12))
    e_hat, q_hat = ops.stop_gradient(e / e_norm), ops.stop_gradient(q / q_norm)
    r = ops.stop_gradient(_l2_normalize(e_hat + q_hat))
    scale = ops.stop_gradient(q_norm / e_norm)
    rotated = scale * (e - 2.0 * r * ops.sum(r * e, axis=-1, keepdims=True)
                       + 2.0 * q_hat * ops.sum(e_hat * e, axis=-1, keepdims=True))
    return rotated + ops.stop_gradient(q - rotated)


def replica_sum(*tensors):
    """Sums tensors over the replicas of a `tf.distribute` strategy (identity without one)."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return tensors
    return tuple(ctx.all_reduce(tf.distribute.ReduceOp.SUM, list(tensors)))


def _from_first_replica(tensor):
    """The first replica's value of `tensor`, on every replica."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return tensor
    mine = tf.cast(tf.equal(ctx.replica_id_in_sync_group, 0), tensor.dtype)
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tensor * mine)


@keras.saving.register_keras_serializable(package="tfvae")
class VectorQuantizer(Quantizer):
    """Maps each vector to its nearest codeword, with a straight-through gradient.

    The quantiser of van den Oord et al., *Neural Discrete Representation
    Learning* (2017). For inputs z of shape `(..., embedding_dim)`, the code of
    each vector is argmin_k ||z - e_k||^2, computed as
    ||z||^2 - 2 z.e_k + ||e_k||^2 with one matmul (no `(N, K, D)` tensor) and
    `tf.argmin` (which TFLite's builtin ops run). The output is
    z + stop_gradient(z_q - z): its value is z_q and its gradient with respect to
    z is the identity. The layer adds the loss

        ||sg(z) - z_q||^2 + commitment_cost * ||z - sg(z_q)||^2

    (each averaged over positions and dimensions, then over the batch) with
    `add_loss`; `quantize_details` returns its terms per example. The layer
    always computes in float32, also under a mixed-precision policy.

    Codes unused for `dead_code_steps` consecutive training steps are restarted:
    each is set to a randomly chosen encoder output of the current batch.

    Args:
        num_embeddings: int >= 2. Number of codewords K.
        embedding_dim: int >= 1. Size D of each codeword; the inputs' last axis.
        commitment_cost: float >= 0. beta, the commitment loss weight.
        dead_code_steps: int >= 1 or None. Restart codes unused this many
            training steps in a row; None never restarts.
        embeddings_initializer: initializer of the codebook.
        return_indices: bool. When True, calling returns `(quantized, indices)`.
        seed: int or None. Seed of the restarts' and the k-means initialisation's random choices.
        use_cosine_sim: bool. Compare l2-normalised inputs with l2-normalised codewords (improved
            VQGAN, Yu et al., 2022): the codes lie on the unit sphere, which keeps more of them in use.
        codebook_dim: int >= 1 or None. Quantise in a space of this size: a dense projection maps the
            inputs down, the codebook lives there, and a second projection maps the codes back to
            `embedding_dim` (improved VQGAN's low-dimensional codes). None: no projection.
        gradient: "ste" (straight-through: the gradient of the output is passed to the input
            unchanged) or "rotation" (the rotation trick of Fifty et al., 2024, *Restructuring Vector
            Quantization with the Rotation Trick*: the output is sg(lambda R) e, R the rotation taking
            the input's direction to its codeword's and lambda the ratio of their norms, so the value
            is the codeword and the gradient is rotated and rescaled the same way).
        kmeans_init: bool. On the first training batch, set the codebook to `kmeans_iters` rounds of
            k-means (Lloyd) on that batch's inputs, started from K of them drawn at random; counts and
            sums are all-reduced under `tf.distribute`, so every replica gets the same codebook.
        kmeans_iters: int >= 1. Lloyd rounds of `kmeans_init`.
        **kwargs: base `keras.layers.Layer` arguments; `dtype` defaults to float32.

    Call arguments:
        inputs: float tensor `(..., embedding_dim)`, any rank >= 2.
        training: bool. Statistics and restarts are updated only when True.

    Returns:
        The quantised tensor, shaped like `inputs` (float32); with
        `return_indices`, also the int32 code indices of shape `inputs.shape[:-1]`.

    Example:

    >>> import keras, numpy as np, tfvae
    >>> z = keras.random.normal((8, 7, 7, 16), seed=0)
    >>> vq = tfvae.VectorQuantizer(num_embeddings=128, embedding_dim=16)
    >>> z_q = vq(z)  # nearest codewords, straight-through gradient; codebook + commitment loss in vq.losses
    >>> tuple(z_q.shape), len(vq.losses)
    ((8, 7, 7, 16), 1)
    >>> codes = vq.get_code_indices(z)
    >>> tuple(codes.shape), codes.dtype.name
    ((8, 7, 7), 'int32')
    >>> np.allclose(vq.lookup(codes), z_q, atol=1e-6)
    True
    """

    # The EMA subclass updates the codebook by moving averages instead of gradients.
    _codebook_trainable = True

    def __init__(
        self,
        num_embeddings,
        embedding_dim,
        commitment_cost=COMMITMENT_COST,
        dead_code_steps=None,
        embeddings_initializer="variance_scaling",
        return_indices=False,
        seed=None,
        use_cosine_sim=False,
        codebook_dim=None,
        gradient="ste",
        kmeans_init=False,
        kmeans_iters=10,
        **kwargs,
    ):
        super().__init__(return_indices=return_indices, **kwargs)
        self.num_embeddings = check_int(num_embeddings, "num_embeddings", 2)
        self.embedding_dim = check_int(embedding_dim, "embedding_dim", 1)
        self.commitment_cost = check_real(commitment_cost, "commitment_cost", 0.0, np.inf, high_open=True)
        if dead_code_steps is not None:
            dead_code_steps = check_int(dead_code_steps, "dead_code_steps", 1)
        self.dead_code_steps = dead_code_steps
        self.seed = check_seed(seed)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.use_cosine_sim = bool(use_cosine_sim)
        self.codebook_dim = None if codebook_dim is None else check_int(codebook_dim, "codebook_dim", 1)
        if gradient not in GRADIENTS:
            raise ValueError(f"`gradient` must be one of {GRADIENTS}; received gradient={gradient!r}.")
        self.gradient = gradient
        self.kmeans_init = bool(kmeans_init)
        self.kmeans_iters = check_int(kmeans_iters, "kmeans_iters", 1)
        if self.codebook_dim is not None:
            self.project_in = keras.layers.Dense(self.codebook_dim, dtype="float32", name="project_in")
            self.project_out = keras.layers.Dense(self.embedding_dim, dtype="float32", name="project_out")

    @property
    def code_dim(self):
        """Size of the codewords: `codebook_dim`, or `embedding_dim` without a projection."""
        return self.embedding_dim if self.codebook_dim is None else self.codebook_dim

    def build(self, input_shape):
        if input_shape[-1] != self.embedding_dim:
            raise ValueError(
                f"{type(self).__name__} expects inputs whose last axis is embedding_dim="
                f"{self.embedding_dim}; received input shape {tuple(input_shape)}."
            )
        if self.codebook_dim is not None:
            self.project_in.build((None, self.embedding_dim))
            self.project_out.build((None, self.codebook_dim))
        self.embeddings = self.add_weight(
            shape=(self.num_embeddings, self.code_dim),
            initializer=self.embeddings_initializer,
            trainable=self._codebook_trainable,
            aggregation=REPLICA_WRITTEN,
            name="embeddings",
        )
        self.update_step = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False,
            aggregation=REPLICA_WRITTEN, name="update_step",
        )
        if self.kmeans_init:
            self.initialized = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False,
                aggregation=REPLICA_WRITTEN, name="initialized",
            )
        if self.dead_code_steps is not None:
            self.steps_since_used = self.add_weight(
                shape=(self.num_embeddings,), initializer="zeros", dtype="int32", trainable=False,
                aggregation=REPLICA_WRITTEN, name="steps_since_used",
            )
            self.restarts = self.add_weight(
                shape=(), initializer="zeros", dtype="int32", trainable=False,
                aggregation=REPLICA_WRITTEN, name="restarts",
            )

    # ------------------------------------------------------------------ codes
    def _codebook(self):
        """The codewords as compared and returned: l2-normalised with `use_cosine_sim`."""
        e = ops.convert_to_tensor(self.embeddings)
        return _l2_normalize(e) if self.use_cosine_sim else e

    def _to_code_space(self, z):
        """Inputs `(..., embedding_dim)` as flat vectors `(N, code_dim)` in the space of the codebook."""
        flat = ops.reshape(ops.cast(z, "float32"), (-1, self.embedding_dim))
        if self.codebook_dim is not None:
            flat = self.project_in(flat)
        return _l2_normalize(flat) if self.use_cosine_sim else flat

    def _from_code_space(self, flat, shape):
        """Flat codewords `(N, code_dim)` as outputs of `shape` `(..., embedding_dim)`."""
        if self.codebook_dim is not None:
            flat = self.project_out(flat)
        return ops.reshape(flat, shape)

    def _nearest(self, flat, e=None):
        e = self._codebook() if e is None else e
        distances = (
            ops.sum(ops.square(flat), axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(e))
            + ops.sum(ops.square(e), axis=1)[None, :]
        )
        # tf.argmin, not keras.ops.argmin: the latter lowers to ops TFLite's builtins lack.
        return tf.argmin(distances, axis=1, output_type=tf.int32)

    def get_code_indices(self, inputs):
        """Int32 indices of the nearest codewords, shape `inputs.shape[:-1]`."""
        z = ops.cast(inputs, "float32")
        return ops.reshape(self._nearest(self._to_code_space(z)), ops.shape(z)[:-1])

    def lookup(self, indices):
        """Codewords of int `indices` of any shape: shape `(*indices.shape, embedding_dim)`.

        The inverse of `get_code_indices`. (Not named `quantize`: Keras reserves
        `Layer.quantize(mode)` for its int8/float8 quantisation and wraps it on
        every layer.)
        """
        indices = check_lookup_indices(indices, self.num_embeddings)
        codes = ops.take(self._codebook(), ops.reshape(indices, (-1,)), axis=0)
        return self._from_code_space(codes, (*ops.shape(indices), self.embedding_dim))

    # ----------------------------------------------------------------- forward
    def _vq_loss(self, codebook_loss, commitment_loss):
        return codebook_loss + self.commitment_cost * commitment_loss

    def quantize_details(self, inputs, training=False, mask=None):
        """Quantises `inputs` and returns everything a model needs, as a dict.

        Keys: "quantized" (straight-through output), "indices" (int32),
        "codebook_loss", "commitment_loss" and "loss" (the layer's weighted loss),
        the last three per example `(batch,)`. Adds no layer loss; when
        `training`, updates the layer's statistics (and, for the EMA layer, the
        codebook). `mask` (float `(batch,)` of 0 and 1, or None): examples with 0
        are left out of the statistics, as residual VQ's quantizer dropout needs.
        """
        z = ops.cast(inputs, "float32")
        flat = self._to_code_space(z)
        if training and self.kmeans_init:
            self._initialize_by_kmeans(flat)
        flat_indices = self._nearest(flat)
        flat_q = ops.take(self._codebook(), flat_indices, axis=0)
        # The losses compare input and codeword in the codebook's space, per example.
        per_example = (ops.shape(z)[0], -1, self.code_dim)
        codebook_loss = losses.vq_codebook_loss(ops.reshape(flat, per_example), ops.reshape(flat_q, per_example))
        commitment_loss = losses.vq_commitment_loss(ops.reshape(flat, per_example), ops.reshape(flat_q, per_example))
        if training:
            weights = None
            if mask is not None:  # one weight per vector: each example's, repeated over its positions
                positions = ops.shape(flat)[0] // ops.shape(z)[0]
                weights = ops.reshape(ops.repeat(ops.cast(mask, "float32")[:, None], positions, axis=1), (-1,))
            self._update(flat, flat_indices, weights)
        if self.gradient == "rotation":
            passed = _rotation_trick(flat, flat_q)
        else:
            passed = flat + ops.stop_gradient(flat_q - flat)
        return {
            "quantized": self._from_code_space(passed, ops.shape(z)),
            "indices": ops.reshape(flat_indices, ops.shape(z)[:-1]),
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
            "loss": self._vq_loss(codebook_loss, commitment_loss),
        }

    # ----------------------------------------------------------------- updates
    def _local_statistics(self, flat, flat_indices, weights=None):
        """Per-code counts `(K,)` and sums of assigned vectors `(K, D)` on this replica (each vector counted
        with its weight, if given)."""
        one_hot = ops.one_hot(flat_indices, self.num_embeddings, dtype="float32")
        if weights is not None:
            one_hot = one_hot * weights[:, None]
        return ops.sum(one_hot, axis=0), ops.matmul(ops.transpose(one_hot), flat)

    def _code_statistics(self, flat, flat_indices, weights=None):
        """Per-code counts `(K,)` and sums of assigned vectors `(K, D)`, over all replicas."""
        return replica_sum(*self._local_statistics(flat, flat_indices, weights))

    def _initialize_by_kmeans(self, flat):
        """On the first training call only: the codebook from k-means on `flat`, the same on every replica.

        The distances are computed only while the codebook is uninitialised (a `tf.cond`); the all-reduces
        of the counts and sums stay outside it, because `tf.distribute` cannot synchronise replicas inside
        control flow. Later steps pay `kmeans_iters` all-reduces of K x (D + 1) zeros under a strategy and
        nothing else."""
        needed = tf.equal(self.initialized, 0)
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32), tf.constant(-1, tf.int32)])
        pick = tf.random.stateless_uniform((self.num_embeddings,), seed, 0, tf.shape(flat)[0], dtype=tf.int32)
        centroids = _from_first_replica(tf.gather(flat, pick))
        nothing = (tf.zeros((self.num_embeddings,)), tf.zeros((self.num_embeddings, self.code_dim)))
        for _ in range(self.kmeans_iters):
            local = tf.cond(needed, lambda c=centroids: self._local_statistics(flat, self._nearest(flat, c)),
                            lambda: nothing)
            counts, sums = replica_sum(*local)
            means = sums / ops.maximum(counts, 1.0)[:, None]
            if self.use_cosine_sim:
                means = _l2_normalize(means)
            centroids = ops.where((counts > 0)[:, None], means, centroids)
        new_embeddings = ops.where(needed, centroids, self.embeddings)
        self.embeddings.assign(new_embeddings)
        self._reset_codes(ops.logical_and(needed, ops.ones((self.num_embeddings,), "bool")), new_embeddings)
        self.initialized.assign(1)

    def _update(self, flat, flat_indices, weights=None):
        counts, sums = self._code_statistics(flat, flat_indices, weights)
        self._update_codebook(counts, sums)
        if self.dead_code_steps is not None:
            self._restart_dead_codes(flat, counts)
        self.update_step.assign_add(1)

    def _update_codebook(self, counts, sums):
        """Gradient-trained codebook: nothing to do here."""
        # A body of a docstring alone breaks AutoGraph's conversion (a warning in every
        # user `tf.function` that calls the layer): say `return`.
        return

    def _restart_dead_codes(self, flat, counts):
        steps = ops.where(counts > 0, 0, self.steps_since_used + 1)
        dead = steps >= self.dead_code_steps
        # Stateless draws keyed by the step: every replica picks the same rows.
        seed = tf.stack([tf.constant(self.seed or 0, tf.int32), tf.cast(self.update_step, tf.int32)])
        n = tf.shape(flat)[0]
        pick = tf.random.stateless_uniform((self.num_embeddings,), seed, 0, n, dtype=tf.int32)
        candidates = _from_first_replica(tf.gather(flat, pick))
        new_embeddings = ops.where(dead[:, None], candidates, self.embeddings)
        self.embeddings.assign(new_embeddings)
        self.steps_since_used.assign(ops.where(dead, 0, steps))
        self.restarts.assign_add(ops.sum(ops.cast(dead, "int32")))
        self._reset_codes(dead, new_embeddings)

    def _reset_codes(self, dead, new_embeddings):
        """Resets per-code state of restarted codes (EMA statistics); none here."""

    def get_config(self):
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "commitment_cost": self.commitment_cost,
            "dead_code_steps": self.dead_code_steps,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            "seed": self.seed,
            "use_cosine_sim": self.use_cosine_sim,
            "codebook_dim": self.codebook_dim,
            "gradient": self.gradient,
            "kmeans_init": self.kmeans_init,
            "kmeans_iters": self.kmeans_iters,
        }
