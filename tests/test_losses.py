import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import losses

tfd = tfp.distributions
rng = np.random.default_rng(0)


def test_gaussian_kl_matches_tfp():
    mean = rng.normal(size=(8, 5)).astype("float32")
    log_var = rng.normal(size=(8, 5)).astype("float32")
    ours = losses.gaussian_kl(mean, log_var).numpy()
    q = tfd.Normal(mean, np.exp(0.5 * log_var))
    ref = tf.reduce_sum(tfd.kl_divergence(q, tfd.Normal(0.0, 1.0)), axis=-1).numpy()
    assert ours.shape == (8,)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)


def test_gaussian_kl_agrees_with_monte_carlo():
    mean = np.array([[0.5, -1.0, 0.0]], "float32")
    log_var = np.array([[-1.0, 0.3, 0.0]], "float32")
    n = 400_000
    sigma = np.exp(0.5 * log_var)
    z = mean + sigma * rng.normal(size=(n, 3))
    log_q = np.sum(-0.5 * (np.log(2 * np.pi) + log_var + (z - mean) ** 2 / np.exp(log_var)), -1)
    log_p = np.sum(-0.5 * (np.log(2 * np.pi) + z**2), -1)
    diff = log_q - log_p
    mc, se = diff.mean(), diff.std() / np.sqrt(n)
    assert abs(losses.gaussian_kl(mean, log_var).numpy()[0] - mc) < 4 * se


def test_kl_of_prior_is_zero():
    assert np.allclose(losses.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3))).numpy(), 0.0)


def test_bernoulli_log_likelihood_matches_tfp_including_extreme_logits():
    x = rng.integers(0, 2, size=(4, 6, 6, 1)).astype("float32")
    logits = (rng.normal(size=x.shape) * 30).astype("float32")
    ours = losses.bernoulli_log_likelihood(x, logits).numpy()
    ref = tf.reduce_sum(tfd.Bernoulli(logits=logits).log_prob(x), axis=[1, 2, 3]).numpy()
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


@pytest.mark.parametrize("scale_shape", [(), (5, 3), (4, 5, 3)])
def test_gaussian_log_likelihood_matches_tfp(scale_shape):
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    mean = rng.normal(size=(4, 5, 3)).astype("float32")
    log_scale = rng.normal(size=scale_shape).astype("float32") * 0.3
    ours = losses.gaussian_log_likelihood(x, mean, log_scale).numpy()
    ref = tf.reduce_sum(tfd.Normal(mean, np.exp(log_scale)).log_prob(x), axis=[1, 2]).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5)


def test_diagonal_and_standard_normal_log_prob_match_tfp():
    z = rng.normal(size=(3, 4, 2)).astype("float32")
    mean = rng.normal(size=(4, 2)).astype("float32")
    log_var = rng.normal(size=(4, 2)).astype("float32")
    ref_q = tfd.MultivariateNormalDiag(mean, np.exp(0.5 * log_var)).log_prob(z).numpy()
    np.testing.assert_allclose(losses.diagonal_gaussian_log_prob(z, mean, log_var).numpy(), ref_q, rtol=1e-5)
    ref_p = tfd.MultivariateNormalDiag(np.zeros(2, "float32"), np.ones(2, "float32")).log_prob(z).numpy()
    np.testing.assert_allclose(losses.standard_normal_log_prob(z).numpy(), ref_p, rtol=1e-5)


def test_float16_inputs_give_float32_terms():
    out = losses.gaussian_kl(tf.zeros((2, 3), tf.float16), tf.zeros((2, 3), tf.float16))
    assert out.dtype == tf.float32


@pytest.mark.parametrize("mean, scale", [(0.3, 0.1), (0.3, 1e-3), (1.7, 0.05), (0.0, 1e-4), (0.5, 3.0)])
def test_discretized_gaussian_is_a_distribution_over_the_levels(mean, scale):
    levels = (np.arange(256) / 255.0).astype("float32")[:, None]
    log_p = losses.discretized_gaussian_log_likelihood(levels, np.full_like(levels, mean), np.log(scale)).numpy()
    assert np.all(np.isfinite(log_p)) and np.all(log_p <= 0)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-5)


def test_discretized_gaussian_bin_masses_match_scipy():
    from scipy import stats

    x = np.array([[0.0, 10 / 255, 128 / 255, 1.0]], "float32")
    mean = np.array([[0.02, 0.05, 0.5, 0.9]], "float32")
    s = 0.07
    half = 0.5 / 255
    expected = (np.log(stats.norm.cdf(half, 0.02, s)) + np.log(stats.norm.cdf(10 / 255 + half, 0.05, s) - stats.norm.cdf(10 / 255 - half, 0.05, s))
                + np.log(stats.norm.cdf(128 / 255 + half, 0.5, s) - stats.norm.cdf(128 / 255 - half, 0.5, s))
                + np.log(stats.norm.sf(1.0 - half, 0.9, s)))
    np.testing.assert_allclose(losses.discretized_gaussian_log_likelihood(x, mean, np.log(s)).numpy()[0], expected, rtol=1e-4)
