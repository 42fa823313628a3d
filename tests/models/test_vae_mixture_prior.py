"""The VAE's learned priors against SciPy and closed forms: the mixture of Gaussians (its density, the Monte Carlo
KL, its draws; a VAE with it trains, round-trips, samples, scores and exports) and the VampPrior."""

import keras
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import tfvae
from tests.helpers import warnings_of_fit
from tfvae import export
from tfvae.models.mixture_prior import MixturePrior

rng = np.random.default_rng(2905)


def _prior(logits, means, log_vars):
    return MixturePrior(lambda: (logits.astype("float32"), means.astype("float32"), log_vars.astype("float32")))


def test_the_density_is_scipys_mixture():
    logits, means, log_vars = rng.normal(size=3), rng.normal(0, 2, (3, 4)), rng.normal(0, 0.5, (3, 4))
    z = rng.normal(0, 2, (2, 5, 4)).astype("float32")  # importance samples (k, batch, D)
    pi = np.exp(logits - logsumexp(logits))
    expected = logsumexp([np.log(pi[c]) + multivariate_normal(means[c], np.diag(np.exp(log_vars[c]))).logpdf(z)
                          for c in range(3)], axis=0)
    np.testing.assert_allclose(_prior(logits, means, log_vars).log_prob(z).numpy(), expected, rtol=1e-5)


def test_the_density_is_exact_for_narrow_components_in_many_dimensions():
    """Components as narrow as a trained VampPrior's (sigma down to 0.01) in 50 dimensions, at latents drawn from
    them: the log-density is the float64 NumPy sum to 1e-4 nats (a float32 expansion of the square is off by
    hundredths)."""
    k, d = 40, 50
    means = rng.normal(0, 1.5, (k, d))
    log_vars = 2 * np.log(rng.uniform(0.01, 1, (k, d)))
    component = rng.integers(0, k, (3, 200))
    z = (means[component] + np.exp(0.5 * log_vars[component]) * rng.normal(size=(3, 200, d))).astype("float32")
    m, lv = means.astype("float32").astype(np.float64), log_vars.astype("float32").astype(np.float64)
    per_component = -0.5 * np.sum(np.log(2 * np.pi) + lv + (z[..., None, :] - m) ** 2 * np.exp(-lv), axis=-1)
    expected = logsumexp(per_component, axis=-1) - np.log(k)
    got = _prior(np.zeros(k), means, log_vars).log_prob(z).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)


def test_the_monte_carlo_kl_averages_to_the_closed_form_for_one_component():
    mu_p, lv_p = rng.normal(size=(1, 3)), rng.normal(0, 0.3, (1, 3))
    prior = _prior(np.zeros(1), mu_p, lv_p)
    mean, log_var = rng.normal(size=(1, 3)), rng.normal(0, 0.3, (1, 3))
    n = 20000
    z = mean + np.exp(0.5 * log_var) * rng.normal(size=(n, 3))
    kl = prior.kl(np.repeat(mean, n, 0).astype("float32"), np.repeat(log_var, n, 0).astype("float32"), None,
                  z.astype("float32")).numpy()
    var_q, var_p = np.exp(log_var), np.exp(lv_p)
    closed = 0.5 * np.sum(lv_p - log_var + (var_q + (mean - mu_p) ** 2) / var_p - 1)
    assert abs(kl.mean() - closed) < 5 * kl.std() / np.sqrt(n), (kl.mean(), closed)


def test_draws_pick_components_by_their_weights_and_the_noise_maps_as_numpy_says():
    logits = np.log([0.2, 0.5, 0.3])
    means = np.array([[-20.0, 0], [0, 0], [20, 0]])
    prior = _prior(logits, means, np.zeros((3, 2)))
    z, _ = prior.sample_latents(6000, 2, 4, None, "test")
    counts = np.array([np.mean(z.numpy()[:, 0] < -10), np.mean(np.abs(z.numpy()[:, 0]) < 10),
                       np.mean(z.numpy()[:, 0] > 10)])
    np.testing.assert_allclose(counts, [0.2, 0.5, 0.3], atol=0.03)  # sd about 0.006
    noise, u = rng.normal(size=(5, 2)).astype("float32"), np.array([0.1, 0.25, 0.69, 0.71, 0.99], "float32")
    component = np.searchsorted(np.cumsum([0.2, 0.5, 0.3]), u, side="right")
    np.testing.assert_allclose(prior._draw(noise, u).numpy(), means[component] + noise, atol=1e-5)
    with pytest.raises(ValueError, match="takes no labels"):
        prior.sample_latents(2, 2, 0, [1, 1], "test")


def test_a_vae_with_a_mixture_prior_trains_samples_scores_round_trips_and_exports(tmp_path):
    x = (rng.random((64, 4, 4, 1)) < 0.3).astype("float32")
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(16,), prior="mixture", num_prior_components=3,
                        seed=0)
    vae.compile(keras.optimizers.Adam(1e-2))
    before = vae.prior_component_means.numpy().copy()
    logs = vae.fit(x, batch_size=16, epochs=2, verbose=0).history
    assert np.all(np.isfinite(logs["loss"])) and np.abs(vae.prior_component_means.numpy() - before).max() > 0
    assert vae.sample(5, seed=1).shape == (5, 4, 4, 1)
    assert np.all(np.isfinite(vae.log_likelihood(x[:8], num_samples=20, seed=0)))
    vae.save(tmp_path / "mog.keras")
    loaded = keras.saving.load_model(tmp_path / "mog.keras")
    assert (loaded.prior, loaded.num_prior_components) == ("mixture", 3)
    np.testing.assert_allclose(loaded.log_likelihood(x[:8], num_samples=20, seed=0),
                               vae.log_likelihood(x[:8], num_samples=20, seed=0), rtol=1e-6)
    # The exported graph draws as NumPy does from the model's own weights.
    noise, u = rng.normal(size=(3, 2)).astype("float32"), np.array([0.05, 0.5, 0.95], "float32")
    pi = np.exp(vae.prior_logits.numpy() - logsumexp(vae.prior_logits.numpy()))
    c = np.searchsorted(np.cumsum(pi)[:-1], u, side="right")
    z = vae.prior_component_means.numpy()[c] + np.exp(0.5 * vae.prior_component_log_vars.numpy()[c]) * noise
    path = str(tmp_path / "sample_from_noise.tflite")
    export.export_tflite(vae, path, signature="sample_from_noise")
    got = export.run_tflite(path, {"noise": noise, "uniform": u})["images"]
    np.testing.assert_allclose(got, vae.decode(z.astype("float32")).numpy(), atol=1e-4)


def test_a_mixture_prior_has_no_classes_and_checks_its_arguments():
    with pytest.raises(ValueError, match="no classes"):
        tfvae.VAE.mlp((4, 4, 1), 2, prior="mixture", num_classes=3)
    with pytest.raises(ValueError, match="`prior`"):
        tfvae.VAE.mlp((4, 4, 1), 2, prior="flow")
    with pytest.raises(ValueError, match="num_prior_components"):
        tfvae.VAE.mlp((4, 4, 1), 2, prior="mixture", num_prior_components=0)


def test_the_vampprior_is_the_mixture_of_the_pseudo_inputs_posteriors():
    """log p(z) equals SciPy's equal-weight mixture of the posteriors `encode` gives for the pseudo-images; the
    pseudo-inputs learn; draws decode; the exported sampler follows the same components."""
    x = (rng.random((64, 4, 4, 1)) < 0.3).astype("float32")
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(16,), prior="vamp", num_prior_components=4, seed=0,
                        kl_warmup_steps=4)
    vae.compile(keras.optimizers.Adam(1e-2))
    before = vae.pseudo_inputs.numpy().copy()
    vae.fit(x, batch_size=16, epochs=2, verbose=0)
    assert np.abs(vae.pseudo_inputs.numpy() - before).max() > 0
    pseudo = vae.pseudo_images.numpy()
    assert pseudo.shape == (4, 4, 4, 1) and 0 < pseudo.min() and pseudo.max() < 1
    mean, log_var = (t.numpy().astype(np.float64) for t in vae.encode(pseudo))
    z = rng.normal(size=(6, 2)).astype("float32")
    expected = logsumexp([multivariate_normal(mean[c], np.diag(np.exp(log_var[c]))).logpdf(z) for c in range(4)],
                         axis=0) - np.log(4)
    np.testing.assert_allclose(vae._prior.log_prob(z).numpy(), expected, rtol=1e-4)
    assert vae.sample(3, seed=0).shape == (3, 4, 4, 1)
    noise, u = rng.normal(size=(2, 2)).astype("float32"), np.array([0.1, 0.9], "float32")
    c = (u * 4).astype(int)  # equal weights: component floor(4u)
    got = vae.serving_functions()["sample_from_noise"](noise, u)["images"].numpy()
    z = mean[c] + np.exp(0.5 * log_var[c]) * noise
    np.testing.assert_allclose(got, vae.decode(z.astype("float32")).numpy(), atol=1e-5)


def test_fit_warns_when_the_vampprior_has_no_kl_warmup():
    """Without a warm-up the VampPrior's posterior collapses onto the prior at the start (measured on MNIST:
    KL 0 after one epoch), so `fit` says so, once; with a warm-up (either kind), or another prior, it is silent."""
    x = (rng.random((32, 4, 4, 1)) < 0.3).astype("float32")

    def fit(callbacks=(), **kwargs):
        vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), num_prior_components=3, seed=0, **kwargs)
        return warnings_of_fit(vae, x, "VampPrior", callbacks)

    messages = fit(prior="vamp")
    assert len(messages) == 1 and "kl_warmup_steps" in messages[0] and "BetaSchedule" in messages[0]
    assert fit(prior="vamp", kl_warmup_steps=10) == []
    # The warm-up the message suggests: a BetaSchedule that starts below 1.
    assert fit(prior="vamp", callbacks=[tfvae.callbacks.BetaSchedule(lambda epoch: min(1.0, epoch / 2))]) == []
    assert fit(prior="mixture") == []
