"""The IWAE objective (num_importance_samples=k) and the DReG estimator: the bound against SciPy and against
VAE.log_likelihood, DReG's gradient against the IWAE gradient (same mean, lower variance, same decoder step)."""

import keras
import numpy as np
import pytest
from scipy.special import logsumexp, softmax

import tfvae
from tests.helpers import fit_and_check_bounds
from tfvae import losses

rng = np.random.default_rng(2904)


def test_the_bound_and_the_dreg_surrogate_are_scipys():
    log_w = rng.normal(0, 3, (7, 5)).astype("float32")
    stopped = rng.normal(0, 3, (7, 5)).astype("float32")
    np.testing.assert_allclose(losses.importance_weighted_bound(log_w).numpy(),
                               logsumexp(log_w.astype(np.float64), axis=0) - np.log(7), rtol=1e-5)
    w = softmax(log_w.astype(np.float64), axis=0)
    np.testing.assert_allclose(losses.dreg_encoder_surrogate(log_w, stopped).numpy(),
                               -(w**2 * stopped).sum(0), rtol=1e-5)


def _binary_images(n):
    return (rng.random((n, 4, 4, 1)) < 0.3).astype("float32")


def test_the_reported_bound_agrees_with_log_likelihood_at_the_same_k():
    """evaluate() with k = 5 and log_likelihood(num_samples=5) estimate the same expected bound."""
    keras.utils.set_random_seed(1)
    x = _binary_images(400)
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=3, hidden_units=(16,), num_importance_samples=5, seed=0)
    elbo = fit_and_check_bounds(vae, x, num_samples=5)
    assert -vae.log_likelihood(x, num_samples=5, seed=3).mean() < elbo.mean()  # k = 5 is tighter than the ELBO


def _delta(model, x, before):
    model.train_on_batch(x)
    after = [v.numpy() for v in model.trainable_variables]
    for v, b in zip(model.trainable_variables, before):
        v.assign(b)
    return [b - a for a, b in zip(after, before)]  # SGD(1): the gradient itself


@pytest.mark.parametrize("k", [10])
def test_dreg_has_the_iwae_gradients_mean_with_less_variance_and_the_same_decoder_step(k):
    x = np.repeat(_binary_images(1), 16, axis=0)
    models = {}
    for estimator in ("iwae", "dreg"):
        keras.utils.set_random_seed(7)
        vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), num_importance_samples=k,
                            gradient_estimator=estimator, seed=11)
        vae.compile(keras.optimizers.SGD(1.0))
        models[estimator] = vae
    weights = [v.numpy() for v in models["iwae"].trainable_variables]
    for v, w in zip(models["dreg"].trainable_variables, weights):
        v.assign(w)
    encoder = len(models["iwae"].encoder.trainable_variables)  # the encoder's come first
    grads = {e: [] for e in models}
    for _ in range(150):  # both models draw the same noise in step: their seed streams run together
        for e, m in models.items():
            grads[e].append(np.concatenate([g.ravel() for g in _delta(m, x, weights)]))
    iwae, dreg = np.array(grads["iwae"]), np.array(grads["dreg"])
    cut = sum(w.size for w in weights[:encoder])
    np.testing.assert_allclose(dreg[:, cut:], iwae[:, cut:], rtol=1e-4, atol=1e-6)  # decoder: same estimator
    assert np.abs(dreg[:, :cut] - iwae[:, :cut]).max() > 1e-4  # encoder: another estimator
    se = np.sqrt(iwae[:, :cut].var(0) / len(iwae) + dreg[:, :cut].var(0) / len(dreg)) + 1e-9
    z = np.abs(iwae[:, :cut].mean(0) - dreg[:, :cut].mean(0)) / se
    assert np.all(z < 5), z.max()  # the same expectation (the IWAE bound's gradient)
    assert dreg[:, :cut].var(0).sum() < 0.5 * iwae[:, :cut].var(0).sum()


def test_the_arguments_are_checked_and_kept_in_the_config(tmp_path):
    with pytest.raises(ValueError, match="num_importance_samples"):
        tfvae.VAE.mlp((4, 4, 1), 2, num_importance_samples=0)
    with pytest.raises(ValueError, match="gradient_estimator"):
        tfvae.VAE.mlp((4, 4, 1), 2, gradient_estimator="vimco")
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), num_importance_samples=3,
                        gradient_estimator="dreg")
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.fit(_binary_images(8), batch_size=4, epochs=1, verbose=0)
    vae.save(tmp_path / "iw.keras")
    loaded = keras.saving.load_model(tmp_path / "iw.keras")
    assert (loaded.num_importance_samples, loaded.gradient_estimator) == (3, "dreg")


def test_the_command_line_trains_with_the_iwae_objective_a_mixture_prior_and_a_flow(tmp_path):
    import contextlib
    import io
    import json

    from tfvae import cli

    np.savez(tmp_path / "bits.npz", images=(rng.random((60, 4, 4)) < 0.3).astype(np.uint8) * 255)
    argv = ["train", "vae", "--dataset", tmp_path / "bits.npz", "--likelihood", "bernoulli", "--latent-dim", "2",
            "--hidden-units", "8", "--importance-samples", "4", "--epochs", "1",
            "--prior", "mixture", "--prior-components", "3", "--posterior-flow", "2", "--posterior-flow-units", "8",
            "--iw-samples", "10", "--output-dir", tmp_path / "out", "--no-export", "--verbose", "0"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([str(a) for a in argv]) == 0
    model = keras.saving.load_model(tmp_path / "out" / "model.keras")
    assert (model.num_importance_samples, model.prior, model.num_prior_components) == (4, "mixture", 3)
    assert (model.posterior_flow, model.posterior_flow_units) == (2, (8,))
    assert json.loads((tmp_path / "out" / "results.json").read_text())["epochs"] == 1
