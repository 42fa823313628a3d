"""XLA and input checks: `jit_compile="auto"` per model, and value checks that survive XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae

rng = np.random.default_rng(0)


def _images(n=8, bad=None):
    x = rng.random((n, 12, 12, 1)).astype("float32")
    if bad == "nan":
        x[3, 1, 1, 0] = np.nan
    elif bad == "range":
        x[5, 2, 2, 0] = 4.0
    return x


def _vqvae():
    return tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=3, hidden_filters=8,
                            residual_filters=4, num_residual_blocks=0, reconstruction="bernoulli", seed=0)


def test_auto_means_the_measured_default_per_model():
    vae = tfvae.VAE.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,))
    vae.compile("adam")
    vq = _vqvae()
    vq.compile("adam")
    assert vae.jit_compile is False and vq.jit_compile is False  # XLA not faster on CPU
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    assert prior.jit_compile is True  # measured faster
    prior.compile("adam", jit_compile=False)
    assert prior.jit_compile is False


def test_xla_models_still_reject_bad_values_in_datasets():
    # XLA drops tf.debugging.Assert: without the checks in the data pipeline these pass silently.
    model = _vqvae()
    model.compile("adam", jit_compile=True)
    good = tf.data.Dataset.from_tensor_slices(_images()).batch(4)

    def wrong(bad):
        return tf.data.Dataset.from_tensor_slices(_images(bad=bad)).batch(4)

    out_of_range = "between 0.0 and 1.0|lie in"
    with pytest.raises(ValueError, match="NaN"):
        model.fit(wrong("nan"), verbose=0)
    with pytest.raises(ValueError, match=out_of_range):
        model.evaluate(wrong("range"), verbose=0)
    with pytest.raises(ValueError, match=out_of_range):
        model.predict(wrong("range"), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(good, validation_data=wrong("nan"), epochs=1, verbose=0)
    model.fit(good, validation_data=good, epochs=1, verbose=0)  # and good data still trains afterwards


def test_xla_vae_and_prior_reject_bad_arrays_and_labels():
    vae = tfvae.ConditionalVAE.mlp((12, 12, 1), latent_dim=2, num_classes=3, hidden_units=(8,))
    vae.compile("adam", jit_compile=True)
    with pytest.raises(ValueError, match="NaN"):
        vae.fit(_images(bad="nan"), np.zeros(8, "int32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="labels must"):
        vae.fit(tf.data.Dataset.from_tensor_slices((_images(), np.full(8, 3, "int32"))).batch(4), verbose=0)
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    codes = rng.integers(0, 8, (8, 3, 3)).astype("int32")
    codes[2, 1, 1] = 8
    with pytest.raises(ValueError, match=r"\[0, 8\)|0 to 7"):
        prior.fit(tf.data.Dataset.from_tensor_slices(codes).batch(4), verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 8\)|0 to 7"):
        prior.predict(codes, verbose=0)
