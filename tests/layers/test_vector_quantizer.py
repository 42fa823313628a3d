import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_docstring_example, run_python
from tfvae.layers import VectorQuantizer, VectorQuantizerEMA

rng = np.random.default_rng(0)
K, D = 16, 4


def _layer(cls=VectorQuantizer, **kwargs):
    layer = cls(K, D, **kwargs)
    layer.build((None, D))
    return layer


def _numpy_codes(z, embeddings):
    flat = z.reshape(-1, D).astype(np.float64)
    dist = ((flat[:, None, :] - embeddings[None].astype(np.float64)) ** 2).sum(-1)
    return dist.argmin(1).reshape(z.shape[:-1])


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_index_equals_numpy_argmin(cls):
    layer = _layer(cls)
    layer.embeddings.assign(rng.normal(size=(K, D)).astype("float32"))
    z = rng.normal(size=(8, 5, 6, D)).astype("float32")
    codes = layer.get_code_indices(z).numpy()
    assert codes.dtype == np.int32 and codes.shape == (8, 5, 6)
    np.testing.assert_array_equal(codes, _numpy_codes(z, layer.embeddings.numpy()))
    out = cls(K, D, return_indices=True)(z)
    assert out[0].shape == z.shape and out[1].shape == z.shape[:-1] and out[1].dtype == tf.int32
    layer.return_indices = True
    quantized, indices = layer(z)
    np.testing.assert_array_equal(indices.numpy(), codes)
    np.testing.assert_allclose(quantized.numpy(), layer.embeddings.numpy()[codes], atol=1e-6)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_straight_through_gradient_is_the_identity(cls):
    layer = _layer(cls)
    z = tf.Variable(rng.normal(size=(3, 7, D)).astype("float32"))
    upstream = rng.normal(size=(3, 7, D)).astype("float32")
    with tf.GradientTape() as tape:
        out = layer(z)
        target = tf.reduce_sum(out * upstream)
    np.testing.assert_array_equal(tape.gradient(target, z).numpy(), upstream)


def test_losses_equal_hand_computed_values_and_route_gradients():
    layer = _layer(commitment_cost=0.3)
    e = rng.normal(size=(K, D)).astype("float32")
    layer.embeddings.assign(e)
    z = tf.Variable(rng.normal(size=(5, 3, 3, D)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        details = layer.quantize_details(z)
        out = layer(z)
    zq = e[_numpy_codes(z.numpy(), e)]
    sq = ((z.numpy() - zq) ** 2).reshape(5, -1).mean(1)
    np.testing.assert_allclose(details["codebook_loss"].numpy(), sq, rtol=1e-5)
    np.testing.assert_allclose(details["commitment_loss"].numpy(), sq, rtol=1e-5)
    np.testing.assert_allclose(details["loss"].numpy(), 1.3 * sq, rtol=1e-5)
    np.testing.assert_allclose(float(layer.losses[0]), 1.3 * sq.mean(), rtol=1e-5)
    np.testing.assert_allclose(out.numpy(), zq, atol=1e-6)
    # The codebook term moves only codewords, the commitment term only the encoder output.
    for grad in (
        tape.gradient(details["codebook_loss"], z),
        tape.gradient(details["commitment_loss"], layer.embeddings),
    ):
        assert grad is None or not np.any(grad.numpy())
    g_e = tf.convert_to_tensor(tape.gradient(details["codebook_loss"], layer.embeddings)).numpy()  # sums over examples
    ref = np.zeros_like(e)
    codes = _numpy_codes(z.numpy(), e)
    n_per = np.prod(codes.shape[1:]) * D
    np.add.at(ref, codes.reshape(-1), (2 * (zq - z.numpy()) / n_per).reshape(-1, D))
    np.testing.assert_allclose(g_e, ref, rtol=1e-4, atol=1e-6)


def test_ema_layer_loss_is_the_commitment_term_only():
    layer = _layer(VectorQuantizerEMA, commitment_cost=0.25)
    z = rng.normal(size=(4, 6, D)).astype("float32")
    details = layer.quantize_details(z)
    np.testing.assert_allclose(details["loss"].numpy(), 0.25 * details["commitment_loss"].numpy(), rtol=1e-6)
    assert not layer.trainable_weights


def test_ema_codebook_moves_by_the_documented_formula():
    decay, eps = 0.9, 1e-5
    layer = _layer(VectorQuantizerEMA, decay=decay, epsilon=eps)
    e0 = rng.normal(size=(K, D)).astype("float32")
    layer.embeddings.assign(e0)
    layer.ema_embedding_sum.assign(e0)
    size, total = np.ones(K), e0.astype(np.float64)
    e = e0.astype(np.float64)
    for step in range(3):
        z = (rng.normal(size=(32, D)) + 0.5 * step).astype("float32")
        codes = _numpy_codes(z, e.astype("float32"))
        counts = np.bincount(codes, minlength=K)
        sums = np.zeros((K, D))
        np.add.at(sums, codes, z)
        size = decay * size + (1 - decay) * counts
        total = decay * total + (1 - decay) * sums
        n = size.sum()
        e = total / ((size + eps) / (n + K * eps) * n)[:, None]
        layer(z, training=True)
        np.testing.assert_allclose(layer.ema_cluster_size.numpy(), size, rtol=1e-5)
        np.testing.assert_allclose(layer.ema_embedding_sum.numpy(), total, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.embeddings.numpy(), e, rtol=1e-4, atol=1e-5)
    used = np.bincount(_numpy_codes(z, e0), minlength=K) > 0
    # Used codes moved toward their batch means; the state changed.
    assert not np.allclose(layer.embeddings.numpy()[used], e0[used])


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_state_does_not_move_when_not_training(cls):
    layer = _layer(cls, dead_code_steps=1)
    before = [w.numpy().copy() for w in layer.weights]
    z = rng.normal(size=(16, D)).astype("float32") + 3.0
    layer(z, training=False)
    layer(z)
    layer.quantize_details(z, training=False)
    for w, b in zip(layer.weights, before):
        np.testing.assert_array_equal(w.numpy(), b, err_msg=w.name)


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_dead_codes_are_restarted_and_their_ema_state_reset(cls):
    layer = _layer(cls, dead_code_steps=2, seed=3)
    e = np.zeros((K, D), "float32")
    e[0] = 0.1  # every input below is nearest to code 0 (all codes but 0 sit at the origin, ties -> first)
    e[1:] = 50.0
    layer.embeddings.assign(e)
    if cls is VectorQuantizerEMA:
        layer.ema_embedding_sum.assign(e)
    z = (rng.random((40, D)) + 0.5).astype("float32")
    layer(z, training=True)
    assert int(layer.restarts.numpy()) == 0
    np.testing.assert_array_equal(layer.steps_since_used.numpy()[1:], 1)
    layer(z, training=True)  # second unused step: codes 1..K-1 die and are re-seeded
    assert int(layer.restarts.numpy()) == K - 1
    new = layer.embeddings.numpy()[1:]
    # Each restarted code is one of the batch's encoder outputs.
    assert all(np.any(np.all(np.isclose(row, z), axis=1)) for row in new)
    np.testing.assert_array_equal(layer.steps_since_used.numpy(), 0)
    if cls is VectorQuantizerEMA:
        np.testing.assert_array_equal(layer.ema_cluster_size.numpy()[1:], 1.0)
        np.testing.assert_array_equal(layer.ema_embedding_sum.numpy()[1:], new)
    # The restarted codes are now used.
    assert len(np.unique(layer.get_code_indices(z).numpy())) > 1


def test_lookup_maps_indices_to_codewords():
    layer = _layer()
    idx = rng.integers(0, K, size=(2, 3, 3))
    np.testing.assert_array_equal(layer.lookup(idx).numpy(), layer.embeddings.numpy()[idx])
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        layer.lookup(np.array([[0, 16]]))
    with pytest.raises(ValueError, match="integers"):
        layer.lookup(np.array([0.0, 1.0]))


def test_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = VectorQuantizer(K, D)
        out = layer(tf.cast(rng.normal(size=(2, 3, D)), tf.float16))
        assert layer.compute_dtype == "float32" and out.dtype == tf.float32
        assert layer.embeddings.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(num_embeddings=1), "num_embeddings"), (dict(embedding_dim=0), "embedding_dim"),
     (dict(commitment_cost=-1.0), "commitment_cost"), (dict(dead_code_steps=0), "dead_code_steps"),
     (dict(decay=1.0), "decay"), (dict(epsilon=0.0), "epsilon"), (dict(seed="x"), "seed")],
)
def test_rejects_bad_arguments(kwargs, match):
    args = dict(num_embeddings=K, embedding_dim=D)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        VectorQuantizerEMA(**args)


def test_rejects_wrong_embedding_dim():
    with pytest.raises(ValueError, match="embedding_dim=4"):
        VectorQuantizer(K, D)(np.zeros((2, 5), "float32"))


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_config_and_keras_file_round_trip(cls, tmp_path):
    layer = cls(K, D, commitment_cost=0.5, dead_code_steps=7, seed=2, name="vq")
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((5, D)), layer])
    z = rng.normal(size=(3, 5, D)).astype("float32")
    layer(z, training=True)  # moves EMA state / counters away from their initial values
    model.save(tmp_path / "vq.keras")
    loaded = keras.saving.load_model(tmp_path / "vq.keras")
    np.testing.assert_array_equal(loaded(z).numpy(), model(z).numpy())
    for a, b in zip(loaded.layers[0].weights, layer.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mirrored_strategy_update_equals_single_device():
    """Two logical CPUs, global batch split in two: the same update as one device on the whole batch."""
    out = run_python(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfvae.layers import VectorQuantizerEMA, VectorQuantizer

        rng = np.random.default_rng(0)
        e0 = rng.normal(size=(16, 4)).astype("float32")
        e0[8:] = 100.0  # codes 8.. are never used: with dead_code_steps=2 they restart at step 2
        batches = [rng.normal(size=(32, 4)).astype("float32") for _ in range(3)]
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2

        def make(cls, dead):
            layer = cls(16, 4, dead_code_steps=dead, seed=1)
            layer.build((None, 4))
            layer.embeddings.assign(e0)
            if cls is VectorQuantizerEMA:
                layer.ema_embedding_sum.assign(e0)
            return layer

        def run_mirrored(layer, data):
            step = tf.function(lambda x: layer(x, training=True))
            for b in data:
                halves = strategy.experimental_distribute_values_from_function(
                    lambda ctx, b=b: b[ctx.replica_id_in_sync_group * 16:(ctx.replica_id_in_sync_group + 1) * 16])
                strategy.run(step, args=(halves,))

        for cls in (VectorQuantizerEMA, VectorQuantizer):
            # 1. No restarts: three steps, every piece of state equal.
            single = make(cls, None)
            for b in batches:
                single(b, training=True)
            with strategy.scope():
                mirrored = make(cls, None)
            run_mirrored(mirrored, batches)
            for a, s in zip(mirrored.weights, single.weights):
                np.testing.assert_allclose(a.numpy(), s.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.name)

            # 2. Restarts at step 2: the same state for surviving codes, the same count, replicas agree,
            #    and every restarted code is an encoder output of the first replica's half batch.
            single = make(cls, 2)
            for b in batches[:2]:
                single(b, training=True)
            with strategy.scope():
                mirrored = make(cls, 2)
            run_mirrored(mirrored, batches[:2])
            assert int(mirrored.restarts.numpy()) == int(single.restarts.numpy()) == 8
            for a, s in zip(mirrored.weights, single.weights):
                if a.name in ("embeddings", "ema_embedding_sum"):
                    np.testing.assert_allclose(a.numpy()[:8], s.numpy()[:8], rtol=1e-5, atol=1e-6, err_msg=a.name)
                else:
                    np.testing.assert_allclose(a.numpy(), s.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.name)
            for v in (mirrored.embeddings, getattr(mirrored, "ema_embedding_sum", mirrored.embeddings)):
                replicas = [r.numpy() for r in strategy.experimental_local_results(v.value)]
                np.testing.assert_array_equal(replicas[0], replicas[1])
            first_half = batches[1][:16]
            for row in mirrored.embeddings.numpy()[8:]:
                assert np.any(np.all(row == first_half, axis=1))
            print(cls.__name__, "ok")
        """,
        timeout=300,
    )
    assert "VectorQuantizerEMA ok" in out and "VectorQuantizer ok" in out


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_autograph_converts_the_layer_in_a_user_training_loop(cls, caplog, capsys):
    """A hand-written `tf.function` loop (AutoGraph on) converts every method the layer runs, without warnings."""
    import logging

    layer = cls(8, 3, seed=0)
    layer.build((None, 3))
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32"))
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        tf.function(lambda x: layer.quantize_details(x, training=True)["quantized"])(x)
    out = capsys.readouterr()
    for text in (caplog.text, out.out, out.err):
        assert "could not transform" not in text


def test_the_docstring_example_runs():
    assert run_docstring_example(VectorQuantizer) >= 8


def test_the_ema_docstring_example_runs():
    assert run_docstring_example(VectorQuantizerEMA) >= 6
