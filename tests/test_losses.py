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


def test_gaussian_kl_to_a_shifted_prior_matches_tfp_and_the_closed_form():
    mean, log_var, prior_mean = (rng.normal(size=(8, 5)).astype("float32") for _ in range(3))
    ours = losses.gaussian_kl(mean, log_var, prior_mean).numpy()
    q = tfd.Normal(mean, np.exp(0.5 * log_var))
    ref = tf.reduce_sum(tfd.kl_divergence(q, tfd.Normal(prior_mean, 1.0)), axis=-1).numpy()
    closed = 0.5 * np.sum((mean - prior_mean) ** 2 + np.exp(log_var) - log_var - 1.0, axis=-1)
    np.testing.assert_allclose(ours, ref, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours, closed, atol=1e-5, rtol=0)


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
    expected = (
        np.log(stats.norm.cdf(half, 0.02, s))
        + np.log(stats.norm.cdf(10 / 255 + half, 0.05, s) - stats.norm.cdf(10 / 255 - half, 0.05, s))
        + np.log(stats.norm.cdf(128 / 255 + half, 0.5, s) - stats.norm.cdf(128 / 255 - half, 0.5, s))
        + np.log(stats.norm.sf(1.0 - half, 0.9, s))
    )
    np.testing.assert_allclose(
        losses.discretized_gaussian_log_likelihood(x, mean, np.log(s)).numpy()[0], expected, rtol=1e-4
    )


def _scipy_log_bin_mass(x, mean, scale, num_bins=256):
    """log P(level x) of the discretised Gaussian in float64 with SciPy, per element.

    Each mass is taken as a difference of log-CDFs (below the mean) or of log-survival
    functions (above it) with SciPy's signed logsumexp, so it keeps its precision in both tails.
    """
    from scipy import special, stats

    half = 0.5 / (num_bins - 1)
    a, b = (x - half - mean) / scale, (x + half - mean) / scale
    out = np.empty_like(a)
    for k in np.ndindex(a.shape):
        if x[k] < half:
            out[k] = stats.norm.logcdf(b[k])
        elif x[k] > 1 - half:
            out[k] = stats.norm.logsf(a[k])
        elif a[k] + b[k] < 0:
            out[k] = special.logsumexp([stats.norm.logcdf(b[k]), stats.norm.logcdf(a[k])], b=[1.0, -1.0])
        else:
            out[k] = special.logsumexp([stats.norm.logsf(a[k]), stats.norm.logsf(b[k])], b=[1.0, -1.0])
    return out


@pytest.mark.parametrize("scale", [0.05, 0.01, 2e-3, 2.0])
def test_discretized_gaussian_matches_scipy_in_float64_out_to_40_sigma(scale):
    levels = np.arange(1, 255) / 255.0  # interior bins; the edge bins are checked below
    z = np.linspace(-40, 40, 161)
    x = np.repeat(levels[::7], len(z))[:, None]
    mean = x - np.tile(z, len(levels[::7]))[:, None] * scale
    expected = _scipy_log_bin_mass(x, mean, scale)[:, 0]
    assert np.all(np.isfinite(expected))
    got = losses.discretized_gaussian_log_likelihood(x.astype("float32"), mean.astype("float32"),
                                                     np.float32(np.log(scale))).numpy()
    # The inputs are float32: compare with SciPy on exactly those values.
    expected32 = _scipy_log_bin_mass(x.astype("float32").astype(np.float64), mean.astype("float32").astype(np.float64),
                                     float(np.float32(scale)))[:, 0]
    np.testing.assert_allclose(got, expected32, rtol=2e-6, atol=1e-5)
    # Edge bins, deep in both tails.
    for edge in (0.0, 1.0):
        xe = np.full((len(z), 1), edge)
        me = xe - z[:, None] * scale
        ref = _scipy_log_bin_mass(xe, me.astype("float32").astype(np.float64), float(np.float32(scale)))[:, 0]
        out = losses.discretized_gaussian_log_likelihood(xe.astype("float32"), me.astype("float32"),
                                                         np.float32(np.log(scale))).numpy()
        np.testing.assert_allclose(out, ref, rtol=2e-6, atol=1e-5)


def test_discretized_gaussian_keeps_precision_above_the_mean():
    # Bins about 4.4 standard deviations above the mean: both CDF values round to 1 in float32,
    # which once made the bound optimistic by about 0.01 nats per pixel.
    scale = 0.01
    x = np.array([[100 / 255.0]] * 5)
    mean = x - np.array([[4.2], [4.3], [4.4], [4.5], [4.6]]) * scale
    ref = _scipy_log_bin_mass(x.astype("float32").astype(np.float64), mean.astype("float32").astype(np.float64),
                              float(np.float32(scale)))[:, 0]
    got = losses.discretized_gaussian_log_likelihood(x.astype("float32"), mean.astype("float32"),
                                                     np.float32(np.log(scale))).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_discretized_gaussian_gradients_are_finite_everywhere():
    x = tf.constant(np.array([[0.0, 3 / 255, 0.5, 1.0]] * 3, "float32"))
    mean = tf.Variable(np.array([[-0.5, 0.9, 0.5, 2.0], [0.0, 3 / 255, 0.5, 1.0], [0.7, -0.3, 0.1, 0.2]], "float32"))
    log_scale = tf.Variable(np.log(np.array([[1e-4], [0.05], [3.0]], "float32")))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(losses.discretized_gaussian_log_likelihood(x, mean, log_scale))
    for g in tape.gradient(total, [mean, log_scale]):
        assert np.all(np.isfinite(g.numpy()))


def test_squared_error_is_the_per_example_sum():
    x, y = rng.random((6, 3, 4, 2)), rng.random((6, 3, 4, 2))
    np.testing.assert_allclose(losses.squared_error(x, y).numpy(), ((x - y) ** 2).sum(axis=(1, 2, 3)), rtol=1e-5)


def test_adversarial_losses_match_tfp_bernoulli_cross_entropy_including_extreme_logits():
    prior_logits = np.concatenate([rng.normal(0, 3, 20), [-200.0, 200.0, 0.0]]).astype("float32")
    code_logits = np.concatenate([rng.normal(0, 3, 20), [200.0, -200.0, 0.0]]).astype("float32")
    # The discriminator's labels: 1 for draws of p(z), 0 for codes; the generator's: 1 for codes.
    real = -tfd.Bernoulli(logits=prior_logits).log_prob(1).numpy()
    fake = -tfd.Bernoulli(logits=code_logits).log_prob(0).numpy()
    fooled = -tfd.Bernoulli(logits=code_logits).log_prob(1).numpy()
    d = losses.discriminator_loss(prior_logits[:, None], code_logits[:, None]).numpy()
    g = losses.generator_loss(code_logits[:, None]).numpy()
    assert d.shape == g.shape == (23,) and np.all(np.isfinite(d)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(d, real + fake, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, fooled, rtol=1e-5, atol=1e-6)
    # A discriminator that cannot tell: log 4 and log 2.
    np.testing.assert_allclose(d[-1], np.log(4.0), rtol=1e-6)
    np.testing.assert_allclose(g[-1], np.log(2.0), rtol=1e-6)
