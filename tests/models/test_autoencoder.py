"""Autoencoder: objective against NumPy, denoising corruption, dropout, input checks, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import run_docstring_example, run_python

rng = np.random.default_rng(0)


def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


@pytest.mark.parametrize("likelihood", ["squared_error", "bernoulli"])
def test_evaluate_is_the_per_example_distance_of_numpy(likelihood):
    keras.utils.set_random_seed(1)
    ae = tfvae.Autoencoder.mlp((5, 4, 1), latent_dim=3, hidden_units=(7,), likelihood=likelihood)
    x = (rng.random((11, 5, 4, 1)) < 0.5).astype("float32")
    raw = ae.decoder(ae.encoder(x)).numpy().astype(np.float64)  # values, or Bernoulli logits
    if likelihood == "squared_error":
        per_example = ((x - raw) ** 2).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(ae.reconstruct(x).numpy(), raw, rtol=1e-6, atol=1e-6)
    else:
        p = _sigmoid(raw)
        per_example = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(ae.reconstruct(x).numpy(), p, rtol=1e-5, atol=1e-6)
    ae.compile("adam")
    # Batches of 4, 4 and 3: the figure is the mean over the 11 examples, not over the 3 batches.
    got = ae.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert set(got) == {"loss"}
    np.testing.assert_allclose(got["loss"], per_example.mean(), rtol=1e-5)


def test_corruption_is_gaussian_clipped_and_only_in_training():
    ae = tfvae.Autoencoder.mlp((20, 20, 1), latent_dim=2, hidden_units=(4,), noise_stddev=0.3, seed=5)
    x = np.full((50, 20, 20, 1), 0.5, np.float32)
    noisy = ae._corrupt(tf.constant(x)).numpy()
    noise = (noisy - x).ravel()
    # 20,000 draws of N(0, 0.3^2), clipped at +-0.5 (1.67 sigma): mean 0, the clipped normal's sd.
    assert abs(noise.mean()) < 0.01
    clipped_sd = np.std(np.clip(np.random.default_rng(0).normal(0, 0.3, 10**6), -0.5, 0.5))
    np.testing.assert_allclose(noise.std(), clipped_sd, rtol=0.03)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0 and (noisy == 0.0).any() and (noisy == 1.0).any()
    # Inference sees the input as given; training sees corrupted inputs.
    np.testing.assert_array_equal(ae(x[:4], training=False).numpy(), ae(x[:4], training=False).numpy())
    assert not np.allclose(ae(x[:4], training=True).numpy(), ae(x[:4], training=False).numpy())


def test_training_loss_compares_the_reconstruction_of_the_noisy_input_with_the_clean_one():
    keras.utils.set_random_seed(2)
    ae = tfvae.Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(6,), noise_stddev=0.4, seed=9)
    ae.compile(keras.optimizers.SGD(0.0))  # no update: the reported loss is the objective of these weights
    x = rng.random((8, 4, 4, 1)).astype("float32")
    # The same generator state replayed: the noise the step draws.
    state = ae.corruption.seed_generator.state.numpy()
    loss = ae.train_on_batch(x, return_dict=True)["loss"]
    ae.corruption.seed_generator.state.assign(state)
    noisy = ae._corrupt(tf.constant(x)).numpy()
    recon = ae.decoder(ae.encoder(noisy)).numpy()
    np.testing.assert_allclose(loss, ((recon - x) ** 2).sum(axis=(1, 2, 3)).mean(), rtol=1e-5)


@pytest.mark.parametrize("builder", ["mlp", "conv"])
def test_dropout_builders_put_dropout_in_both_networks(builder):
    ae = getattr(tfvae.Autoencoder, builder)((8, 8, 1), latent_dim=3, dropout=0.5, hidden_units=16,
                                             **({"filters": (4,)} if builder == "conv" else {}))
    for net in (ae.encoder, ae.decoder):
        rates = [layer.rate for layer in net.layers if isinstance(layer, keras.layers.Dropout)]
        assert rates and all(r == 0.5 for r in rates), net.name
    x = rng.random((4, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(ae.encode(x).numpy(), ae.encode(x).numpy())  # inference: no dropout
    assert not np.allclose(ae.encoder(x, training=True).numpy(), ae.encoder(x, training=True).numpy())
    plain = getattr(tfvae.Autoencoder, builder)((8, 8, 1), latent_dim=3, hidden_units=16,
                                                **({"filters": (4,)} if builder == "conv" else {}))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in plain.encoder.layers)


@pytest.mark.parametrize("kwargs, match", [
    ({"likelihood": "l1"}, "likelihood='l1'"),
    ({"likelihood": "gaussian"}, "likelihood='gaussian'"),
    ({"noise_stddev": -0.1}, "noise_stddev"),
    ({"noise_stddev": float("nan")}, "noise_stddev"),
    ({"dropout": 1.0}, "dropout"),
    ({"dropout": -0.2}, "dropout"),
    ({"likelihood": "bernoulli", "value_range": "centered"}, "value_range"),
    ({"value_range": "bytes"}, "value_range"),
    ({"seed": 1.5}, "seed"),
])
def test_bad_arguments_name_the_argument_and_the_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tfvae.Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,), **kwargs)


def test_rejects_non_network_encoder():
    with pytest.raises(ValueError, match="encoder"):
        tfvae.Autoencoder("not a model", keras.Sequential())


@pytest.fixture(scope="module")
def small_ae():
    ae = tfvae.Autoencoder.mlp((6, 6, 1), latent_dim=2, hidden_units=(8,), noise_stddev=0.1)
    ae.compile("adam")
    return ae


def _bad_inputs():
    good = rng.random((8, 6, 6, 1)).astype("float32")
    nan = good.copy()
    nan[3, 2, 2, 0] = np.nan
    return {
        "shape": (good[:, :5], "shape"),
        "channels": (np.concatenate([good, good], -1), "shape"),
        "dtype": ((good * 255).astype("uint8"), "floating point"),
        "nan": (nan, "NaN or Inf"),
        "range": (good * 3.0, "lie in \\[0.0, 1.0\\]"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
@pytest.mark.parametrize("method", ["encode", "reconstruct", "fit", "evaluate", "predict"])
def test_bad_input_raises_a_clear_value_error(small_ae, case, method):
    x, match = _bad_inputs()[case]
    # Inside fit/evaluate/predict the step's assertion stops Keras with InvalidArgumentError.
    # Shapes and dtypes are refused when the step is traced (ValueError).
    in_step = case in ("nan", "inf", "range") and method in ("fit", "evaluate", "predict")
    error = tf.errors.InvalidArgumentError if in_step else ValueError
    with pytest.raises(error, match=match):
        if method in ("fit", "evaluate", "predict"):
            getattr(small_ae, method)(x, batch_size=4, verbose=0)
        else:
            getattr(small_ae, method)(x)


def test_decode_rejects_codes_of_the_wrong_size(small_ae):
    with pytest.raises(ValueError, match="shape"):
        small_ae.decode(np.zeros((2, 3), "float32"))


def test_centered_data_are_checked_against_their_own_range():
    ae = tfvae.Autoencoder.mlp((3,), latent_dim=2, hidden_units=(4,), value_range="centered", noise_stddev=1.0)
    ae.encode(np.array([[-0.5, 0.0, 0.5]], "float32"))
    with pytest.raises(ValueError, match="-0.5"):
        ae.encode(np.array([[0.9, 0.0, 0.5]], "float32"))
    assert ae._corrupt(tf.ones((100, 3)) * 0.4).numpy().max() <= 0.5


def test_serving_functions_are_the_models_methods(small_ae):
    x = rng.random((5, 6, 6, 1)).astype("float32")
    fns = small_ae.serving_functions()
    assert set(fns) == {"serving_default", "encode", "decode"}
    np.testing.assert_allclose(fns["encode"](images=x)["latent"].numpy(), small_ae.encode(x).numpy(), atol=1e-6)
    z = small_ae.encode(x).numpy()
    np.testing.assert_allclose(fns["decode"](latent=z)["images"].numpy(), small_ae.decode(z).numpy(), atol=1e-6)
    np.testing.assert_allclose(fns["serving_default"](images=x)["reconstruction"].numpy(),
                               small_ae.reconstruct(x).numpy(), atol=1e-6)


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    models = {
        "dae_mlp": tfvae.Autoencoder.mlp((6, 6, 1), latent_dim=3, hidden_units=(16,), noise_stddev=0.2,
                                         dropout=0.1, seed=3),
        "ae_conv_bernoulli": tfvae.Autoencoder.conv((12, 10, 1), latent_dim=3, filters=(4, 8), hidden_units=16,
                                                    likelihood="bernoulli"),
    }
    for name, ae in models.items():
        ae.compile("adam")
        x = (rng.random((16, *ae.image_shape)) < 0.5).astype("float32")
        ae.fit(x, batch_size=8, epochs=1, verbose=0)
        ae.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}_x.npy", x)
        np.save(tmp_path / f"{name}_y.npy", ae.reconstruct(x).numpy())
        np.save(tmp_path / f"{name}_z.npy", ae.encode(x).numpy())
    out = run_python(
        f"""
        import sys, numpy as np, keras
        import tfvae
        d = sys.argv[1]
        for name in {list(models)!r}:
            ae = keras.saving.load_model(f"{{d}}/{{name}}.keras")  # safe mode
            x = np.load(f"{{d}}/{{name}}_x.npy")
            assert type(ae) is tfvae.Autoencoder, type(ae)
            np.testing.assert_allclose(ae.reconstruct(x).numpy(), np.load(f"{{d}}/{{name}}_y.npy"), atol=1e-6)
            np.testing.assert_allclose(ae.encode(x).numpy(), np.load(f"{{d}}/{{name}}_z.npy"), atol=1e-6)
            assert ae.optimizer.iterations.numpy() == 2
            print(name, ae.likelihood, ae.noise_stddev, "ok")
        """,
        args=(str(tmp_path),),
    )
    assert "dae_mlp squared_error 0.2 ok" in out and "ae_conv_bernoulli bernoulli 0.0 ok" in out


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.Autoencoder) >= 6
