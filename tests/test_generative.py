import math

import numpy as np
import pytest

import tfvae
from tfvae import generative

rng = np.random.default_rng(0)


def _pair(reconstruction="mse", **prior_kwargs):
    vqvae = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=1, reconstruction=reconstruction)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 6, filters=8, num_layers=2, **prior_kwargs)
    return vqvae, prior


def test_sample_images_decodes_prior_samples():
    vqvae, prior = _pair()
    images, codes = generative.sample_images(vqvae, prior, 3, seed=4)
    assert images.shape == (3, 8, 8, 1) and codes.shape == (3, 2, 2)
    np.testing.assert_array_equal(codes.numpy(), prior.sample(3, seed=4).numpy())
    np.testing.assert_allclose(images.numpy(), vqvae.decode(codes).numpy(), atol=1e-6)


def test_incompatible_prior_is_refused():
    vqvae, _ = _pair()
    with pytest.raises(ValueError, match="grid"):
        generative.sample_images(vqvae, tfvae.PixelCNNPrior((3, 3), 6, filters=4, num_layers=1), 2)
    with pytest.raises(ValueError, match="6 codes"):
        generative.sample_images(vqvae, tfvae.PixelCNNPrior((2, 2), 7, filters=4, num_layers=1), 2)


def test_encode_dataset_matches_encode_and_keeps_labels():
    import tensorflow as tf

    vqvae, _ = _pair()
    x = rng.random((10, 8, 8, 1)).astype("float32")
    y = np.arange(10)
    np.testing.assert_array_equal(generative.encode_dataset(vqvae, x, batch_size=3), vqvae.encode(x).numpy())
    codes, labels = generative.encode_dataset(vqvae, tf.data.Dataset.from_tensor_slices((x, y)).batch(4))
    np.testing.assert_array_equal(labels, y)
    np.testing.assert_array_equal(codes, vqvae.encode(x).numpy())


def test_nll_bound_adds_reconstruction_and_prior_terms():
    vqvae, prior = _pair()
    x = (rng.integers(0, 256, (5, 8, 8, 1)) / 255.0).astype("float32")
    bound = generative.nll_bound(vqvae, prior, x, observation_scale=0.1, batch_size=2)
    codes = vqvae.encode(x)
    expected_prior = -prior.log_prob(codes).numpy()
    expected_recon = -tfvae.losses.discretized_gaussian_log_likelihood(x, vqvae.decode(codes), math.log(0.1)).numpy()
    np.testing.assert_allclose(bound["prior_nats"], expected_prior, rtol=1e-5)
    np.testing.assert_allclose(bound["reconstruction_nats"], expected_recon, rtol=1e-5)
    np.testing.assert_allclose(bound["bits_per_dim"], (expected_prior + expected_recon) / (64 * math.log(2)), rtol=1e-5)
    with pytest.raises(ValueError, match="observation_scale"):
        generative.nll_bound(vqvae, prior, x)


def test_nll_bound_of_a_bernoulli_vqvae():
    vqvae, prior = _pair("bernoulli")
    x = (rng.random((4, 8, 8, 1)) < 0.3).astype("float32")
    bound = generative.nll_bound(vqvae, prior, x)
    p = np.clip(vqvae.decode(vqvae.encode(x)).numpy().astype(np.float64), 1e-7, 1 - 1e-7)
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=(1, 2, 3))
    np.testing.assert_allclose(bound["reconstruction_nats"], expected, rtol=1e-4)
