"""Two stochastic layers (the IWAE paper's architecture): the prior's estimate of log p(z1) against closed forms,
and a VAE with it that trains, scores consistently, samples, round-trips and exports."""

import keras
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import tfvae
from tests.helpers import fit_and_check_bounds, warnings_of_fit
from tfvae import export
from tfvae.models.hierarchical_prior import HierarchicalPrior

rng = np.random.default_rng(2907)


def _prior(up, down, d2):
    return HierarchicalPrior(up, down, d2, keras.random.SeedGenerator(0))


def test_with_the_true_posterior_the_estimate_is_log_p_z1_exactly():
    """z2 ~ N(0, I), z1 | z2 ~ N(A z2, s^2 I) with orthogonal columns of A: q(z2 | z1) can be the exact posterior,
    and then every draw's estimate equals log N(z1; 0, A A^T + s^2 I)."""
    a = np.linalg.qr(rng.normal(size=(4, 2)))[0] * np.array([1.5, 0.7])
    s2 = 0.3
    cov = np.diag(1.0 / (1.0 + np.diag(a.T @ a) / s2))  # the posterior's covariance, diagonal

    def up(z1):
        mean = z1 @ (a / s2 @ cov).astype("float32")
        return keras.ops.concatenate([mean, keras.ops.ones_like(mean) * np.log(np.diag(cov)).astype("float32")], -1)

    def down(z2):
        mean = z2 @ a.T.astype("float32")
        return keras.ops.concatenate([mean, keras.ops.ones_like(mean) * np.float32(np.log(s2))], -1)

    z1 = rng.normal(size=(6, 4)).astype("float32")
    expected = multivariate_normal(np.zeros(4), a @ a.T + s2 * np.eye(4)).logpdf(z1)
    for seed in (None, 3):
        np.testing.assert_allclose(_prior(up, down, 2).log_prob(z1, seed=seed).numpy(), expected, rtol=1e-4)


def test_a_two_layer_vae_trains_scores_consistently_samples_round_trips_and_exports(tmp_path):
    keras.utils.set_random_seed(5)
    x = (rng.random((300, 4, 4, 1)) < 0.3).astype("float32")
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=4, hidden_units=(16,), second_latent_dim=2, second_hidden_units=(8,),
                        kl_warmup_steps=6, seed=0)
    fit_and_check_bounds(vae, x)
    assert any("second_generative" in v.path for v in vae.trainable_variables)
    assert vae.sample(4, seed=0).shape == (4, 4, 4, 1)
    vae.save(tmp_path / "two.keras")
    loaded = keras.saving.load_model(tmp_path / "two.keras")
    np.testing.assert_allclose(loaded.log_likelihood(x[:10], num_samples=20, seed=2),
                               vae.log_likelihood(x[:10], num_samples=20, seed=2), rtol=1e-5)
    # The exported sampler: z2 from the first two noise values, z1 = m1(z2) + s1(z2) * the other four.
    noise = rng.normal(size=(3, 6)).astype("float32")
    out = vae.second_generative(noise[:, :2]).numpy()
    z1 = out[:, :4] + np.exp(0.5 * out[:, 4:]) * noise[:, 2:]
    path = str(tmp_path / "sample_from_noise.tflite")
    export.export_tflite(vae, path, signature="sample_from_noise")
    np.testing.assert_allclose(export.run_tflite(path, {"noise": noise})["images"],
                               vae.decode(z1.astype("float32")).numpy(), atol=1e-4)


def test_a_second_layer_goes_with_neither_classes_nor_another_prior():
    with pytest.raises(ValueError, match="second stochastic layer"):
        tfvae.VAE.mlp((4, 4, 1), 2, second_latent_dim=2, prior="mixture")
    with pytest.raises(ValueError, match="second stochastic layer"):
        tfvae.VAE.mlp((4, 4, 1), 2, second_latent_dim=2, num_classes=3)
    with pytest.raises(ValueError, match="second_latent_dim"):
        tfvae.VAE.mlp((4, 4, 1), 2, second_latent_dim=0)
    with pytest.raises(ValueError, match="dreg"):
        tfvae.VAE.mlp((4, 4, 1), 2, second_latent_dim=2, gradient_estimator="dreg")


def test_fit_warns_when_the_elbo_trains_two_layers_without_a_kl_warmup():
    """Without a warm-up the two-layer ELBO stalls far above where it gets with one (bench_likelihood.py's `two`
    row), so `fit` says so, once; with a warm-up, or with the IWAE objective, it is silent."""
    x = (rng.random((32, 4, 4, 1)) < 0.3).astype("float32")

    def fit(**kwargs):
        vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=4, hidden_units=(8,), second_latent_dim=2,
                            second_hidden_units=(8,), seed=0, **kwargs)
        return warnings_of_fit(vae, x, "two stochastic layers")

    messages = fit()
    assert len(messages) == 1 and "kl_warmup_steps" in messages[0] and "BetaSchedule" in messages[0]
    assert fit(kl_warmup_steps=10) == []
    assert fit(num_importance_samples=3) == []
