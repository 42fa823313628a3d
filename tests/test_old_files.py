"""`.keras` files written by tfvae 0.1 (tests/data/keras_v0_1, made by its make_files.py) still load, compile and
compute what they computed then."""

import os
import warnings

import keras
import numpy as np
import pytest

import tfvae  # noqa: F401  (registers the classes the files name)

HERE = os.path.join(os.path.dirname(__file__), "data", "keras_v0_1")
EXPECTED = np.load(os.path.join(HERE, "expected.npz"))


def _load(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no "jit_compile=True removes the value checks" for the prior
        model = keras.saving.load_model(os.path.join(HERE, f"{name}.keras"))
    # 0.1 saved steps_per_execution="auto" and jit_compile resolved from "auto": they load as today's defaults.
    assert model.compiled and model.steps_per_execution == 1 and model.jit_compile is False
    assert int(model.optimizer.iterations.numpy()) == 2  # the optimizer state came along
    return model


def test_the_files_give_the_outputs_of_0_1():
    e = EXPECTED
    tol = dict(rtol=1e-5, atol=1e-6)
    vae = _load("vae")
    np.testing.assert_allclose(vae.encode(e["x"])[0].numpy(), e["vae_mean"], **tol)
    np.testing.assert_allclose(vae.decode(e["vae_mean"]).numpy(), e["vae_decoded"], **tol)
    np.testing.assert_allclose(_load("cvae").encode(e["x"], e["labels"])[0].numpy(), e["cvae_mean"], **tol)
    vqvae = _load("vqvae")
    # Saved with tfvae 0.1's `reconstruction=`: loaded (silently) as today's `likelihood=`.
    assert str(vqvae.likelihood) == "bernoulli" and str(_load("autoencoder").likelihood) == "squared_error"
    np.testing.assert_array_equal(vqvae.encode(e["x8"]).numpy(), e["vqvae_codes"])
    np.testing.assert_allclose(vqvae.reconstruct(e["x8"]).numpy(), e["vqvae_reconstruction"], **tol)
    np.testing.assert_allclose(_load("autoencoder").reconstruct(e["x"]).numpy(), e["autoencoder_reconstruction"],
                               **tol)
    np.testing.assert_allclose(_load("aae").reconstruct(e["x"]).numpy(), e["aae_reconstruction"], **tol)
    np.testing.assert_allclose(_load("prior").log_prob(e["codes"], e["labels"]).numpy(), e["prior_log_prob"],
                               **tol)


@pytest.mark.parametrize("name", ["vae", "aae", "prior"])
def test_a_loaded_file_trains_on(name):
    e = EXPECTED
    model = _load(name)
    data = {"vae": (e["x"],), "aae": (e["x"], e["labels"]), "prior": (e["codes"], e["labels"])}[name]
    history = model.fit(*data, batch_size=4, epochs=1, shuffle=False, verbose=0).history
    assert int(model.optimizer.iterations.numpy()) == 4
    assert all(np.isfinite(v[0]) for v in history.values())
