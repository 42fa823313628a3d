"""The scalable residual networks: their layers, the spatial-latent VAE, the VQGAN-style VQ-VAE, on colour images."""

import keras
import numpy as np
import pytest

import tfvae
from tfvae import export
from tfvae.layers import ResidualBlock, SpatialAttention

rng = np.random.default_rng(2026)
SMALL = dict(base_filters=8, max_filters=16, num_blocks=1)


def test_residual_block_is_the_identity_when_its_last_convolution_is_zero():
    block = ResidualBlock(6, groups=3)
    x = rng.normal(size=(2, 5, 5, 6)).astype("float32")
    block(x)
    for w in block.conv2.weights:
        w.assign(np.zeros(w.shape, "float32"))
    np.testing.assert_allclose(block(x).numpy(), x, rtol=1e-6)
    wider = ResidualBlock(8, groups=4)
    assert wider(x).shape == (2, 5, 5, 8) and wider.shortcut is not None


def test_spatial_attention_is_equivariant_to_permuting_positions():
    """Attention and group normalisation treat positions as a set: permuting them permutes the output."""
    layer = SpatialAttention(groups=2)
    x = rng.normal(size=(2, 3, 4, 4)).astype("float32")
    perm = rng.permutation(12)
    permuted = x.reshape(2, 12, 4)[:, perm].reshape(2, 3, 4, 4)
    out = layer(x).numpy().reshape(2, 12, 4)[:, perm].reshape(2, 3, 4, 4)
    np.testing.assert_allclose(layer(permuted).numpy(), out, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, x.reshape(2, 12, 4)[:, perm].reshape(2, 3, 4, 4))  # it does something


def test_layers_round_trip_their_configs():
    for layer in (ResidualBlock(4, groups=2, dropout=0.1), SpatialAttention(groups=2)):
        again = type(layer).from_config(layer.get_config())
        assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("size", [32, 64])
def test_spatial_vae_kl_is_numpys_and_it_round_trips_and_exports(size, tmp_path):
    x = (rng.integers(0, 256, (8, size, size, 3)) / 255.0).astype("float32")
    vae = tfvae.VAE.resnet((size, size, 3), latent_channels=2, downsample_factor=8 if size == 64 else 4,
                           likelihood="discretized_logistic_mixture", seed=0, **SMALL)
    assert vae.latent_shape == (8, 8, 2)  # 32 / 4 and 64 / 8
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.fit(x, batch_size=4, epochs=1, verbose=0)
    mean, log_var = (t.numpy().astype(np.float64) for t in vae.encode(x))
    assert mean.shape == (8, *vae.latent_shape)
    kl = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(axis=(1, 2, 3))  # per latent element, summed
    np.testing.assert_allclose(vae.evaluate(x, batch_size=8, verbose=0, return_dict=True)["kl"], kl.mean(),
                               rtol=1e-4)
    samples = vae.sample(3, seed=1).numpy()
    assert samples.shape == (3, size, size, 3) and 0 <= samples.min() and samples.max() <= 1
    log_px = vae.log_likelihood(x[:2], num_samples=2, seed=0)
    assert log_px.shape == (2,) and np.all(np.isfinite(log_px))
    vae.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")  # safe mode
    z = rng.normal(size=(2, *vae.latent_shape)).astype("float32")
    np.testing.assert_allclose(loaded.decode(z).numpy(), vae.decode(z).numpy(), rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "decode.tflite")
    export.export_tflite(vae, path, signature="decode")
    np.testing.assert_allclose(export.run_tflite(path, {"latent": z})["images"], vae.decode(z).numpy(), atol=1e-4)
    if size == 32:  # the SavedModel's signatures against the model's own methods
        import tensorflow as tf

        served = tf.saved_model.load(str(export.export_saved_model(vae, str(tmp_path / "served")))).signatures
        np.testing.assert_allclose(served["decode"](latent=tf.constant(z))["images"].numpy(), vae.decode(z).numpy(),
                                   atol=1e-5)
        np.testing.assert_allclose(served["encode"](images=tf.constant(x))["mean"].numpy(), mean, rtol=1e-4,
                                   atol=1e-5)
        noise = rng.normal(size=(2, *vae.latent_shape)).astype("float32")
        np.testing.assert_allclose(served["sample_from_noise"](noise=tf.constant(noise))["images"].numpy(),
                                   vae.decode(noise).numpy(), atol=1e-5)


def test_vqgan_style_vqvae_trains_round_trips_and_exports(tmp_path):
    x = (rng.integers(0, 256, (8, 32, 32, 3)) / 255.0).astype("float32")
    vq = tfvae.VQVAE.resnet((32, 32, 3), num_embeddings=16, embedding_dim=4, data_variance=float(x.var()), seed=0,
                            **SMALL)
    assert vq.grid_shape == (8, 8)
    vq.compile(keras.optimizers.Adam(1e-3))
    vq.fit(x, batch_size=4, epochs=1, verbose=0)
    vq.save(tmp_path / "vq.keras")
    loaded = keras.saving.load_model(tmp_path / "vq.keras")
    np.testing.assert_array_equal(loaded.encode(x).numpy(), vq.encode(x).numpy())
    path = str(tmp_path / "encode.tflite")
    export.export_tflite(vq, path, signature="encode")
    codes = export.run_tflite(path, {"images": x})["codes"]
    assert np.mean(codes == vq.encode(x).numpy()) > 0.99  # float rounding may flip a near tie


@pytest.mark.parametrize("kwargs, match", [
    (dict(downsample_factor=3), "power of 2"),
    (dict(downsample_factor=64), "must divide"),
    (dict(num_classes=10), "take no labels"),
    (dict(observation_scale="decoder", likelihood="gaussian"), "no decoder head"),
    (dict(latent_channels=0), "latent_channels"),
])
def test_resnet_builder_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tfvae.VAE.resnet((32, 32, 3), **{**SMALL, **kwargs})


def test_autoencoder_with_a_spatial_code_trains_and_exports(tmp_path):
    x = (rng.integers(0, 256, (8, 32, 32, 3)) / 255.0).astype("float32")
    ae = tfvae.Autoencoder.resnet((32, 32, 3), latent_channels=3, seed=0, **SMALL)
    assert ae.latent_shape == (8, 8, 3) and ae.latent_dim == 192
    ae.compile(keras.optimizers.Adam(1e-3))
    ae.fit(x, batch_size=4, epochs=1, verbose=0)
    codes = ae.encode(x).numpy()
    np.testing.assert_allclose(ae.decode(codes).numpy(), ae.reconstruct(x).numpy(), rtol=1e-5, atol=1e-6)
    ae.save(tmp_path / "ae.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "ae.keras").encode(x).numpy(), codes, rtol=1e-5,
                               atol=1e-6)
    path = str(tmp_path / "decode.tflite")
    export.export_tflite(ae, path, signature="decode")
    np.testing.assert_allclose(export.run_tflite(path, {"latent": codes})["images"], ae.decode(codes).numpy(),
                               atol=1e-4)
    with pytest.raises(ValueError, match="AdversarialAutoencoder.resnet is not offered"):
        tfvae.AdversarialAutoencoder.resnet((32, 32, 3))
