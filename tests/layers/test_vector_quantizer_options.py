"""VectorQuantizer's options against NumPy: cosine codebooks, low-dimensional codes, the rotation trick and
k-means initialisation; each in a VQ-VAE that trains, round-trips and runs under mixed precision."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import check_vqvae_save_and_tflite, fit_under_mixed_float16, run_python
from tfvae.layers import VectorQuantizer, VectorQuantizerEMA

rng = np.random.default_rng(2702)


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_cosine_codes_are_the_most_similar_unit_codewords():
    vq = VectorQuantizer(32, 6, use_cosine_sim=True)
    z = rng.normal(size=(5, 3, 6)).astype("float32")
    vq.build(z.shape)
    details = vq.quantize_details(z)
    e = vq.embeddings.numpy()
    expected = np.argmax(_unit(z.reshape(-1, 6)) @ _unit(e).T, axis=1).reshape(5, 3)
    np.testing.assert_array_equal(details["indices"].numpy(), expected)
    np.testing.assert_allclose(details["quantized"].numpy(), _unit(e)[expected], atol=1e-6)
    np.testing.assert_allclose(vq.lookup(expected).numpy(), _unit(e)[expected], atol=1e-6)
    commitment = ((_unit(z) - _unit(e)[expected]) ** 2).reshape(5, -1).mean(1)
    np.testing.assert_allclose(details["commitment_loss"].numpy(), commitment, rtol=1e-5)


def test_low_dimensional_codes_go_through_both_projections():
    vq = VectorQuantizer(16, 8, codebook_dim=3)
    z = rng.normal(size=(4, 2, 2, 8)).astype("float32")
    vq.build(z.shape)
    details = vq.quantize_details(z)
    w_in, b_in = (w.numpy() for w in vq.project_in.weights)
    w_out, b_out = (w.numpy() for w in vq.project_out.weights)
    e = vq.embeddings.numpy()
    assert e.shape == (16, 3)
    low = z.reshape(-1, 8) @ w_in + b_in
    expected = np.argmin(((low[:, None] - e[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(details["indices"].numpy().ravel(), expected)
    np.testing.assert_allclose(details["quantized"].numpy().reshape(-1, 8), e[expected] @ w_out + b_out, atol=1e-5)
    np.testing.assert_allclose(vq.lookup(details["indices"]).numpy(), details["quantized"].numpy(), atol=1e-6)


def _plane_rotation(a, b):
    """The rotation taking unit vector a to unit vector b, the identity on the complement of their plane
    (built from the angle, not from the paper's Householder form)."""
    cos = float(a @ b)
    perp = b - cos * a
    sin = np.linalg.norm(perp)
    u = perp / sin
    return (np.eye(len(a)) + sin * (np.outer(u, a) - np.outer(a, u))
            + (cos - 1) * (np.outer(a, a) + np.outer(u, u)))


def test_the_rotation_trick_keeps_the_codeword_and_rotates_the_gradient():
    vq = VectorQuantizer(8, 5, gradient="rotation")
    ste = VectorQuantizer(8, 5)
    z = tf.constant(rng.normal(size=(6, 5)).astype("float32"))
    vq.build(z.shape)
    ste.build(z.shape)
    ste.embeddings.assign(vq.embeddings)
    w = tf.constant(rng.normal(size=(6, 5)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        out = vq.quantize_details(z)["quantized"]
        out_ste = ste.quantize_details(z)["quantized"]
        loss, loss_ste = tf.reduce_sum(out * w), tf.reduce_sum(out_ste * w)
    np.testing.assert_allclose(out.numpy(), out_ste.numpy(), atol=1e-6)  # the value is the codeword
    grad = tape.gradient(loss, z).numpy()
    np.testing.assert_allclose(tape.gradient(loss_ste, z).numpy(), w.numpy())  # straight through
    for i in range(6):
        e, q = z.numpy()[i].astype(np.float64), out.numpy()[i].astype(np.float64)
        rotation = _plane_rotation(_unit(e), _unit(q))
        np.testing.assert_allclose(rotation @ _unit(e), _unit(q), atol=1e-6)
        # out = (|q| / |e|) R e, with R and the scale held constant: d(w . out)/de = (|q| / |e|) R^T w.
        expected = np.linalg.norm(q) / np.linalg.norm(e) * rotation.T @ w.numpy()[i]
        np.testing.assert_allclose(grad[i], expected, rtol=1e-4, atol=1e-5)


def _numpy_lloyd(x, centroids, iters):
    for _ in range(iters):
        assign = np.argmin(((x[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
        for k in range(len(centroids)):
            if np.any(assign == k):
                centroids[k] = x[assign == k].mean(0)
    return centroids


@pytest.mark.parametrize("cls", [VectorQuantizer, VectorQuantizerEMA])
def test_kmeans_initialisation_is_lloyds_from_the_drawn_inputs_and_happens_once(cls):
    centres = np.array([[4, 0], [-4, 0], [0, 4], [0, -4]], "float32")
    x = (centres[rng.integers(0, 4, 200)] + rng.normal(0, 0.5, (200, 2))).astype("float32")
    vq = cls(6, 2, kmeans_init=True, kmeans_iters=7, seed=3)
    vq.build((None, 2))
    pick = tf.random.stateless_uniform((6,), tf.constant([3, -1]), 0, 200, dtype=tf.int32).numpy()
    expected = _numpy_lloyd(x.astype(np.float64), x[pick].astype(np.float64), 7)
    out = vq.quantize_details(x, training=True)
    assert int(vq.initialized.numpy()) == 1
    if cls is VectorQuantizer:
        np.testing.assert_allclose(vq.embeddings.numpy(), expected, atol=1e-4)
        np.testing.assert_array_equal(out["indices"].numpy(),
                                      np.argmin(((x[:, None] - expected[None]) ** 2).sum(-1), axis=1))
    else:  # the batch's EMA update starts from the k-means codebook (sizes 1, sums the centroids): NumPy's
        assign = np.argmin(((x[:, None] - expected[None]) ** 2).sum(-1), axis=1)
        np.testing.assert_array_equal(out["indices"].numpy(), assign)
        counts = np.bincount(assign, minlength=6).astype(np.float64)
        sums = np.stack([x[assign == k].sum(0) for k in range(6)])
        size = 0.99 + 0.01 * counts
        total = 0.99 * expected + 0.01 * sums
        smoothed = (size + 1e-5) / (size.sum() + 6 * 1e-5) * size.sum()
        np.testing.assert_allclose(vq.embeddings.numpy(), total / smoothed[:, None], atol=1e-4)
    before = vq.embeddings.numpy().copy()
    vq.quantize_details(x + 10.0, training=False)
    np.testing.assert_array_equal(vq.embeddings.numpy(), before)  # not at inference
    if cls is VectorQuantizer:
        vq.quantize_details(x + 10.0, training=True)
        np.testing.assert_array_equal(vq.embeddings.numpy(), before)  # and only once


def test_kmeans_initialisation_is_the_same_on_every_replica():
    """Two logical CPUs, uneven halves: both replicas get Lloyd's codebook over the whole batch, started from
    the first replica's draws."""
    out = run_python(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfvae.layers import VectorQuantizer

        rng = np.random.default_rng(0)
        x = rng.normal(size=(30, 3)).astype("float32")
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            vq = VectorQuantizer(4, 3, kmeans_init=True, kmeans_iters=5, seed=1)
            vq.build((None, 3))
        parts = strategy.experimental_distribute_values_from_function(
            lambda ctx: x[:18] if ctx.replica_id_in_sync_group == 0 else x[18:])
        strategy.run(tf.function(lambda b: vq.quantize_details(b, training=True)["indices"]), args=(parts,))
        pick = tf.random.stateless_uniform((4,), tf.constant([1, -1]), 0, 18, dtype=tf.int32).numpy()
        c = x[:18][pick].astype(np.float64)
        for _ in range(5):
            a = np.argmin(((x[:, None] - c[None]) ** 2).sum(-1), axis=1)
            c = np.stack([x[a == k].mean(0) if np.any(a == k) else c[k] for k in range(4)])
        values = [v.numpy() for v in vq.embeddings.value.values]  # the MirroredVariable's copy per device
        assert len(values) == 2
        for v in values:
            assert np.allclose(v, c, atol=1e-4), (v, c)
        print("ok")
        """
    )
    assert "ok" in out


@pytest.mark.parametrize("options", [
    dict(use_cosine_sim=True), dict(codebook_dim=2), dict(gradient="rotation"), dict(kmeans_init=True),
    dict(use_cosine_sim=True, codebook_dim=2, gradient="rotation", kmeans_init=True),
])
def test_a_vqvae_with_the_options_trains_round_trips_and_stays_finite_in_mixed_precision(options, tmp_path):
    x = (rng.random((16, 8, 8, 1)) < 0.4).astype("float32")
    vq = VectorQuantizerEMA(16, 4, seed=0, name="quantizer", **options)
    model = tfvae.VQVAE.conv((8, 8, 1), embedding_dim=4, quantizer=vq, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=1)
    model.compile(keras.optimizers.Adam(1e-3))
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in logs.values())
    # The exported graphs of all options at once, on TFLite's builtin ops.
    loaded = check_vqvae_save_and_tflite(model, x, tmp_path, tflite=len(options) > 1)
    assert {k: loaded.quantizer.get_config()[k] for k in options} == options
    fit_under_mixed_float16(lambda: tfvae.VQVAE.conv(
        (8, 8, 1), embedding_dim=4, quantizer=VectorQuantizer(16, 4, seed=0, name="quantizer", **options),
        hidden_filters=8, residual_filters=4, num_residual_blocks=1), x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(codebook_dim=0), "codebook_dim"), (dict(gradient="straight"), "gradient"),
    (dict(kmeans_iters=0), "kmeans_iters"),
])
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VectorQuantizer(8, 4, **kwargs)
