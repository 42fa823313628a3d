"""The Gaussian prior shared by the VAE and the adversarial autoencoder, against SciPy and NumPy."""

import keras
import numpy as np
import pytest
from scipy import stats

import tfvae
from tfvae.layers import GaussianSampler
from tfvae.models.gaussian_prior import GaussianPrior

rng = np.random.default_rng(11)
MEANS = rng.normal(0, 2, (3, 4)).astype("float32")


def test_log_prob_and_kl_are_scipys_and_the_closed_form():
    prior = GaussianPrior(3, lambda: MEANS)
    labels = np.array([0, 2, 1, 2], "int32")
    z = rng.normal(size=(4, 4)).astype("float32")
    expected = [stats.multivariate_normal(MEANS[y], np.eye(4)).logpdf(z[i]) for i, y in enumerate(labels)]
    np.testing.assert_allclose(prior.log_prob(z, labels).numpy(), expected, rtol=1e-5)
    mean, log_var = rng.normal(size=(4, 4)).astype("float32"), rng.normal(0, 0.3, (4, 4)).astype("float32")
    var = np.exp(log_var.astype(np.float64))
    kl = 0.5 * (var + (mean - MEANS[labels]) ** 2 - 1 - log_var).sum(1)
    np.testing.assert_allclose(prior.kl(mean, log_var, labels).numpy(), kl, rtol=1e-5)
    unconditional = GaussianPrior()
    np.testing.assert_allclose(unconditional.log_prob(z, None).numpy(), stats.norm.logpdf(z).sum(1), rtol=1e-5)


def test_draws_are_the_samplers_noise_moved_to_the_class_means():
    prior = GaussianPrior(3, lambda: MEANS)
    sampler = GaussianSampler(seed=5)
    codes = np.zeros((6, 4), "float32")
    labels = np.array([0, 1, 2, 0, 1, 2], "int32")
    state = sampler.seed_generator.state.numpy()
    draws = prior.draws_like(codes, labels, sampler).numpy()
    sampler.seed_generator.state.assign(state)
    noise = sampler([codes, codes]).numpy()
    np.testing.assert_allclose(draws, noise + MEANS[labels], rtol=1e-6)


def test_sample_latents_checks_labels_the_same_way_for_every_model():
    z, labels = GaussianPrior(3, lambda: MEANS).sample_latents(5, 4, 0, None, "who")
    np.testing.assert_array_equal(labels, [0, 1, 2, 0, 1])  # classes in turn
    np.testing.assert_allclose(z.numpy(), keras.random.normal((5, 4), seed=0).numpy() + MEANS[labels], rtol=1e-6)
    with pytest.raises(ValueError, match="who: the prior of a model without classes is N\\(0, I\\) and takes no"):
        GaussianPrior().sample_latents(2, 4, 0, 1, "who")
    with pytest.raises(ValueError, match="need `num_classes`"):
        GaussianPrior(None, lambda: MEANS)


@pytest.mark.parametrize("make", [
    lambda: tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,)),
    lambda: tfvae.AdversarialAutoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,)),
])
def test_models_without_classes_refuse_labels_in_sample(make):
    """The VAE used to ignore them silently; both models now say so."""
    with pytest.raises(ValueError, match="takes no labels; received labels=3"):
        make().sample(2, seed=0, labels=3)


def test_vae_and_aae_samples_decode_the_same_prior_draws():
    """With class means, `sample(n, seed=s, labels=y)` decodes N(0, I) noise of seed s plus mu_y in both."""
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), num_classes=3, conditioning="prior_mean")
    aae = tfvae.AdversarialAutoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), num_classes=3,
                                           prior_means=MEANS[:, :2])
    labels = np.array([2, 0, 1], "int32")
    noise = keras.random.normal((3, 2), seed=7).numpy()
    for model, means in ((vae, vae.prior_means.numpy()), (aae, MEANS[:, :2])):
        expected = model.decode(noise + means[labels], *([labels] if model is vae else []))
        np.testing.assert_allclose(model.sample(3, seed=7, labels=labels).numpy(), expected.numpy(), rtol=1e-6)
