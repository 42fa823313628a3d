import math

import numpy as np
import pytest

import tfvae
from tfvae import generative

rng = np.random.default_rng(0)


def _pair(likelihood="mean_squared_error", **prior_kwargs):
    vqvae = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=1, likelihood=likelihood)
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


def test_observation_scale_is_the_root_mean_squared_error_in_batches():
    vqvae, _ = _pair()
    x = rng.random((7, 8, 8, 1)).astype("float32")
    expected = np.sqrt(np.mean((vqvae.reconstruct(x).numpy().astype(np.float64) - x) ** 2))
    # Batches of 3 leave a last batch of 1: the mean must weight every pixel once, not every batch.
    assert generative.observation_scale(vqvae, x, batch_size=3) == pytest.approx(expected, rel=1e-6)
    assert generative.observation_scale(vqvae, x) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="empty"):
        generative.observation_scale(vqvae, x[:0])
    with pytest.raises(ValueError, match="batch_size=0"):
        generative.observation_scale(vqvae, x, batch_size=0)
    with pytest.raises(ValueError, match="batch_size=0"):
        generative.encode_dataset(vqvae, x, batch_size=0)


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


def _log_sigmoid(t):
    return -np.logaddexp(0.0, -t)


def test_nll_bound_of_a_bernoulli_vqvae_uses_the_logits():
    vqvae, prior = _pair("bernoulli")
    # A confident, wrong decoder: every pixel's logit is about +30, while most pixels are 0.
    # Clipping probabilities to [1e-7, 1 - 1e-7] would cap each wrong pixel at 16.1 nats.
    out = vqvae.decoder.layers[-1]
    out.bias.assign(np.full(out.bias.shape, 30.0, "float32"))
    x = (rng.random((4, 8, 8, 1)) < 0.3).astype("float32")
    bound = generative.nll_bound(vqvae, prior, x)
    codes = vqvae.encode(x)
    logits = vqvae.decoder(vqvae.quantizer.lookup(codes)).numpy().astype(np.float64)
    assert logits.min() > 20
    expected = -np.sum(x * _log_sigmoid(logits) + (1 - x) * _log_sigmoid(-logits), axis=(1, 2, 3))
    np.testing.assert_allclose(bound["reconstruction_nats"], expected, rtol=1e-5)
    np.testing.assert_allclose(bound["prior_nats"], -prior.log_prob(codes).numpy(), rtol=1e-5)


def test_nll_bound_refuses_data_it_cannot_score():
    vqvae, prior = _pair()
    x = (rng.integers(0, 256, (3, 8, 8, 1)) / 255.0).astype("float32")
    with pytest.raises(ValueError, match=r"levels k/255 of \[0, 1\].*shifted by \+0.5"):
        generative.nll_bound(vqvae, prior, x - 0.5, observation_scale=0.1)  # value_range="centered"
    with pytest.raises(ValueError, match="off those levels"):
        generative.nll_bound(vqvae, prior, x + 0.3 / 255, observation_scale=0.1)
    with pytest.raises(ValueError, match="observation_scale"):
        generative.nll_bound(vqvae, prior, x)
    with pytest.raises(ValueError, match="batch_size=0"):
        generative.nll_bound(vqvae, prior, x, observation_scale=0.1, batch_size=0)
    bernoulli, bprior = _pair("bernoulli")
    with pytest.raises(ValueError, match="binary"):
        generative.nll_bound(bernoulli, bprior, x)  # grey levels under a Bernoulli likelihood


def test_bits_per_dim_refuses_likelihoods_that_are_not_probabilities_of_the_data():
    from tfvae.metrics import bits_per_dim

    binary = (rng.random((3, 4, 4, 1)) < 0.5).astype("float32")
    np.testing.assert_allclose(bits_per_dim(np.array([10.0, 20.0, 30.0]), binary, "bernoulli"),
                               np.array([10.0, 20.0, 30.0]) / (16 * math.log(2)))
    with pytest.raises(ValueError, match="binary"):
        bits_per_dim(1.0, binary * 0.5, "bernoulli")
    with pytest.raises(ValueError, match="density"):
        bits_per_dim(1.0, binary, "gaussian")
    assert bits_per_dim(1.0, binary * (7 / 255), "discretized_gaussian") > 0
