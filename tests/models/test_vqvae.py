import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import real_data, run_docstring_example, run_python

rng = np.random.default_rng(0)


def _small(quantizer="vq", **kwargs):
    return tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=4, hidden_filters=8,
                            residual_filters=4, num_residual_blocks=1, quantizer=quantizer, **kwargs)


@pytest.mark.parametrize("quantizer", ["vq", "ema"])
def test_encode_decode_shapes_and_metrics(quantizer):
    model = _small(quantizer)
    x = rng.random((6, 12, 12, 1)).astype("float32")
    codes = model.encode(x)
    assert codes.shape == (6, 3, 3) and codes.dtype == tf.int32 and model.grid_shape == (3, 3)
    np.testing.assert_allclose(model.decode(codes).numpy(), model.reconstruct(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model(x).numpy(), atol=1e-6)
    model.compile("adam")
    history = model.fit(x, batch_size=3, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "reconstruction", "vq_loss", "perplexity", "codebook_usage"}
    assert 1.0 <= history.history["perplexity"][0] <= 8.0 and 0 < history.history["codebook_usage"][0] <= 1.0


def test_reported_terms_equal_numpy():
    model = _small(data_variance=0.5)
    model.compile("adam")
    x = rng.random((4, 12, 12, 1)).astype("float32")
    result = model.evaluate(x, batch_size=4, return_dict=True, verbose=0)
    z = model.encoder(x).numpy()
    e = model.quantizer.embeddings.numpy()
    codes = model.encode(x).numpy()
    zq = e[codes]
    mse = ((model.decode(codes).numpy() - x) ** 2).reshape(4, -1).mean(1) / 0.5
    vq = 1.25 * ((z - zq) ** 2).reshape(4, -1).mean(1)
    np.testing.assert_allclose(result["reconstruction"], mse.mean(), rtol=1e-4)
    np.testing.assert_allclose(result["vq_loss"], vq.mean(), rtol=1e-4)
    counts = np.bincount(codes.reshape(-1), minlength=8) / codes.size
    nz = counts[counts > 0]
    np.testing.assert_allclose(result["perplexity"], np.exp(-(nz * np.log(nz)).sum()), rtol=1e-5)
    np.testing.assert_allclose(result["codebook_usage"], (counts > 0).mean(), rtol=1e-6)


def test_gradients_reach_the_encoder_through_the_quantizer():
    model = _small()
    x = rng.random((4, 12, 12, 1)).astype("float32")
    with tf.GradientTape() as tape:
        decoded, _ = model._forward(x, training=False)
        loss = tf.reduce_mean(model._reconstruction_loss(x, decoded))
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    assert all(g is not None for g in grads) and any(np.any(g.numpy() != 0) for g in grads)


def test_ema_codebook_is_not_trained_by_gradients():
    model = _small("ema")
    assert all("embeddings" not in w.path for w in model.trainable_weights)
    assert any("embeddings" in w.path for w in model.non_trainable_weights)


@pytest.mark.parametrize(
    "codes, match",
    [(np.zeros((2, 3, 3), "float32"), "integers"), (np.zeros((2, 3, 4), "int32"), "shape"),
     (np.full((2, 3, 3), 8, "int32"), r"\[0, 8\)"), (np.full((2, 3, 3), -1, "int32"), r"\[0, 8\)")],
)
def test_decode_rejects_bad_codes(codes, match):
    with pytest.raises(ValueError, match=match):
        _small().decode(codes)


@pytest.mark.parametrize("method", ["encode", "reconstruct", "fit", "evaluate", "predict"])
def test_bad_images_raise_value_error(method):
    model = _small()
    model.compile("adam")
    good = rng.random((4, 12, 12, 1)).astype("float32")
    nan = good.copy()
    nan[0, 0, 0, 0] = np.nan
    for bad, match in ((good[:, :11], "shape"), (nan, "NaN"), (good.astype("int32"), "floating")):
        # Shapes and dtypes are refused when the step is traced (ValueError); values inside a step stop
        # Keras with InvalidArgumentError.
        in_step = match == "NaN" and method in ("fit", "evaluate", "predict")
        with pytest.raises(tf.errors.InvalidArgumentError if in_step else ValueError, match=match):
            if method in ("fit", "evaluate", "predict"):
                getattr(model, method)(bad, batch_size=2, verbose=0)
            else:
                getattr(model, method)(bad)


def test_bernoulli_reconstruction_checks_range():
    model = _small(likelihood="bernoulli")
    with pytest.raises(ValueError, match="between 0.0 and 1.0|lie in"):
        model.encode(rng.random((2, 12, 12, 1)).astype("float32") * 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(quantizer="kmeans"), "quantizer"), (dict(likelihood="l1"), "likelihood='l1'"),
     (dict(likelihood="gaussian"), "likelihood"),
     (dict(data_variance=0.0), "data_variance"), (dict(num_downsamplings=0), "num_downsamplings"),
     (dict(num_downsamplings=True), "num_downsamplings=True"),
     (dict(value_range="raw"), "value_range='raw'"),
     (dict(likelihood="bernoulli", value_range="centered"), "likelihood='bernoulli'.*value_range='unit'")],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _small(**kwargs)


@pytest.mark.parametrize("quantizer", ["vq", "ema"])
def test_config_round_trip(quantizer):
    model = _small(quantizer, dead_code_steps=5, value_range="centered")
    clone = tfvae.VQVAE.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert type(clone.quantizer) is type(model.quantizer)
    assert clone.value_bounds == (-0.5, 0.5)


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    x = rng.random((8, 12, 12, 1)).astype("float32")
    for quantizer in ("vq", "ema"):
        model = _small(quantizer, dead_code_steps=3, data_variance=0.08)
        model.compile("adam")
        model.fit(x, batch_size=4, epochs=2, verbose=0)
        model.save(tmp_path / f"{quantizer}.keras")
        np.savez(tmp_path / f"{quantizer}.npz", codes=model.encode(x).numpy(), recon=model.reconstruct(x).numpy())
    np.save(tmp_path / "x.npy", x)
    out = run_python(
        """
        import sys, numpy as np, keras
        import tfvae  # registers the classes
        d = sys.argv[1]
        x = np.load(f"{d}/x.npy")
        for q in ("vq", "ema"):
            ref = np.load(f"{d}/{q}.npz")
            m = keras.saving.load_model(f"{d}/{q}.keras")
            np.testing.assert_array_equal(m.encode(x).numpy(), ref["codes"])
            np.testing.assert_allclose(m.reconstruct(x).numpy(), ref["recon"], atol=1e-6)
            print(q, type(m.quantizer).__name__, m.data_variance)
        """,
        args=(str(tmp_path),),
    )
    assert "vq VectorQuantizer 0.08" in out and "ema VectorQuantizerEMA 0.08" in out


# Thresholds of the real-data run (MNIST, 1 epoch on 20,000 images, test on 2,000).
# A quantizer that maps everything to one code lets the decoder output at best
# the mean image: normalised MSE 0.72 on these MNIST test images (computed in
# the test), and usage 1/128. Measured: VQ 0.131 / 0.711, EMA 0.138 / 0.609.
VQ_MAX_TEST_NMSE = 0.3
VQ_MIN_USAGE = 0.25


@pytest.mark.real_data
@pytest.mark.parametrize("quantizer", ["vq", "ema"])
def test_short_mnist_run_beats_a_collapsed_codebook(quantizer):
    keras.utils.set_random_seed(0)
    train = real_data(tfvae.data.load, "mnist", "train[:20000]", 128, seed=0)
    x_test = tfvae.data.load_arrays("mnist", "test", limit=2000)
    x_train = tfvae.data.load_arrays("mnist", "train", limit=20000)
    variance = float(x_train.var())
    collapsed = float(((x_test - x_train.mean(0)) ** 2).mean() / variance)
    model = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, hidden_filters=64,
                             residual_filters=32, num_residual_blocks=1, quantizer=quantizer,
                             data_variance=variance)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(train, epochs=1, shuffle=False, verbose=0)
    result = model.evaluate(x_test, batch_size=500, return_dict=True, verbose=0)
    print(f"{quantizer}: test normalised MSE {result['reconstruction']:.4f} (collapsed codebook {collapsed:.3f}), "
          f"usage {result['codebook_usage']:.3f}, perplexity {result['perplexity']:.1f}")
    assert collapsed > 0.6
    assert result["reconstruction"] < VQ_MAX_TEST_NMSE
    assert result["codebook_usage"] > VQ_MIN_USAGE


@pytest.mark.parametrize("likelihood", ["mean_squared_error", "bernoulli"])
def test_vq_terms_are_on_the_scale_of_the_reconstruction(likelihood):
    """Bernoulli: nats summed over pixels, so the VQ terms are sums over positions and dimensions
    (eq. 3 of the paper); MSE: a mean over pixels, so they are means."""
    vq = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                          num_residual_blocks=1, likelihood=likelihood, commitment_cost=0.25)
    vq.compile("adam")
    x = (rng.random((5, 8, 8, 1)) < 0.4).astype("float32")
    z = vq.encoder(x).numpy().astype(np.float64)
    e = vq.quantizer.embeddings.numpy().astype(np.float64)
    nearest = np.argmin(((z[..., None, :] - e) ** 2).sum(-1), axis=-1)
    squared = ((z - e[nearest]) ** 2).reshape(5, -1)
    per_example = squared.sum(1) if likelihood == "bernoulli" else squared.mean(1)
    r = vq.evaluate(x, batch_size=5, verbose=0, return_dict=True)
    np.testing.assert_allclose(r["vq_loss"], 1.25 * per_example.mean(), rtol=1e-4)


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.VQVAE) >= 8
