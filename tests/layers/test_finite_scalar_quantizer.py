"""FSQ against NumPy: outputs on the grid, the index map a bijection, the straight-through gradient; in a VQ-VAE."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tfvae import export
from tfvae.layers import FiniteScalarQuantizer
from tfvae.models import networks

rng = np.random.default_rng(27)
LEVELS = (8, 5, 5, 5)


def _numpy_grid(levels):
    """Every grid point, normalised, in index order (the first dimension fastest), from NumPy alone."""
    levels = np.array(levels)
    half = levels // 2
    axes = np.meshgrid(*[np.arange(n) for n in levels[::-1]], indexing="ij")[::-1]  # the last dimension slowest
    digits = np.stack(axes, -1).reshape(-1, len(levels))
    return (digits - half) / half


def test_every_output_is_on_its_grid_and_the_index_map_is_a_bijection():
    fsq = FiniteScalarQuantizer(LEVELS)
    assert fsq.num_embeddings == 1000 and fsq.embedding_dim == 4
    z = rng.normal(0, 3, (5000, 4)).astype("float32")
    details = fsq.quantize_details(z)
    q, indices = details["quantized"].numpy(), details["indices"].numpy()
    for d, n in enumerate(LEVELS):
        allowed = (np.arange(n) - n // 2) / (n // 2)
        assert np.isin(q[:, d], allowed).all()
    grid = _numpy_grid(LEVELS)
    np.testing.assert_array_equal(fsq.lookup(np.arange(1000)).numpy(), grid)  # index -> point, NumPy's order
    np.testing.assert_array_equal(fsq.lookup(indices).numpy(), q)  # the index of each output finds it back
    # Point -> index: inputs that the bound maps onto each grid point (its inverse, in NumPy) get that index.
    half_levels = (np.array(LEVELS) - 1) * (1 - 1e-3) / 2
    offsets = np.where(np.array(LEVELS) % 2 == 0, 0.5, 0.0)
    # The outermost levels lie just beyond the bound (they are reached by rounding): aim 1% inside each value.
    target = 0.99 * grid * (np.array(LEVELS) // 2)
    inverse = np.arctanh((target + offsets) / half_levels) - np.arctanh(offsets / half_levels)
    np.testing.assert_array_equal(fsq.get_code_indices(inverse.astype("float32")).numpy(), np.arange(1000))
    assert np.all(details["loss"].numpy() == 0)


def test_two_levels_split_by_sign_without_nan():
    # The paper's shift atanh(0.5 / h) has h < 0.5 when L = 2: a NaN in every output of that dimension.
    fsq = FiniteScalarQuantizer((2, 3))
    z = tf.Variable(rng.normal(0, 2, (1000, 2)).astype("float32"))
    with tf.GradientTape() as tape:
        q = fsq.quantize_details(z)["quantized"]
        total = tf.reduce_sum(q)
    grad = tape.gradient(total, z).numpy()
    q = q.numpy()
    assert np.isfinite(q).all() and np.isfinite(grad).all() and (grad[:, 0] > 0).all()
    np.testing.assert_array_equal(q[:, 0], np.where(z.numpy()[:, 0] > 0, 0.0, -1.0))
    np.testing.assert_array_equal(fsq.lookup(fsq.get_code_indices(z)).numpy(), q)
    assert sorted(np.unique(fsq.get_code_indices(z).numpy())) == list(range(6))


def test_the_gradient_is_straight_through_the_bound():
    """d quantized / dz = d bound / dz / floor(L/2): the rounding passes the gradient unchanged (NumPy)."""
    fsq = FiniteScalarQuantizer(LEVELS)
    z = tf.constant(rng.normal(0, 1, (6, 4)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(z)
        q = fsq(z)
    grad = tape.gradient(q, z).numpy()
    half_levels = (np.array(LEVELS) - 1) * (1 - 1e-3) / 2
    offsets = np.where(np.array(LEVELS) % 2 == 0, 0.5, 0.0)
    shifts = np.arctanh(offsets / half_levels)
    expected = (1 - np.tanh(z.numpy() + shifts) ** 2) * half_levels / (np.array(LEVELS) // 2)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)


def test_a_vqvae_with_fsq_trains_uses_every_code_it_can_and_exports(tmp_path):
    levels = (5, 3)
    encoder = networks.vq_encoder((8, 8, 1), len(levels), hidden_filters=8, residual_filters=4, num_residual_blocks=1)
    decoder = networks.vq_decoder((8, 8, 1), len(levels), hidden_filters=8, residual_filters=4, num_residual_blocks=1)
    model = tfvae.VQVAE(encoder, decoder, FiniteScalarQuantizer(levels))
    assert model.num_embeddings == 15 and model.grid_shape == (2, 2)
    x = (rng.random((16, 8, 8, 1)) < 0.4).astype("float32")
    model.compile(keras.optimizers.Adam(1e-3))
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert logs["vq_loss"][0] == 0.0
    codes = model.encode(x).numpy()
    assert codes.min() >= 0 and codes.max() < 15
    model.save(tmp_path / "fsq.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "fsq.keras").encode(x).numpy(), codes)
    path = str(tmp_path / "encode.tflite")
    export.export_tflite(model, path, signature="encode")
    assert np.mean(export.run_tflite(path, {"images": x})["codes"] == codes) > 0.99
    prior = tfvae.PixelCNNPrior(model.grid_shape, model.num_embeddings, filters=8, num_layers=1)
    images, sampled = tfvae.generative.sample_images(model, prior, 3, seed=0)
    assert images.shape == (3, 8, 8, 1) and sampled.shape == (3, 2, 2)


@pytest.mark.parametrize("levels", [(), (1, 5), (2.5,), "85"])
def test_bad_levels_are_refused(levels):
    with pytest.raises(ValueError, match="levels"):
        FiniteScalarQuantizer(levels)


def test_vqvae_conv_with_fsq_trains_on_mnist():
    # The paper's encoder at Keras' default initialisation gives outputs of about 0.01, which all
    # rounded to FSQ's centre level: one code, a constant decoder input, no gradient anywhere.
    x = tfvae.data.load_arrays("mnist", "test", limit=2048)
    keras.utils.set_random_seed(3)
    model = tfvae.VQVAE.conv(x.shape[1:], 1024, quantizer="fsq", data_variance=float(np.var(x)))
    assert len(np.unique(model.encode(x[:256]).numpy())) > 10  # was 1
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x[:64], training=True) - x[:64]))
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    assert all(g is not None for g in grads) and max(float(tf.norm(g)) for g in grads) > 0  # was all zero
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=64, epochs=3, verbose=0)
    test = model.evaluate(x[:512], batch_size=256, verbose=0, return_dict=True)
    assert test["reconstruction"] < 0.5 and test["codebook_usage"] > 0.05  # was 1.0 and 0.001
