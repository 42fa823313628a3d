"""The inverse autoregressive flow posterior: MADE's masks and the flow's log-determinant against finite
differences in NumPy; a VAE with it trains, scores consistently, round-trips and exports."""

import keras
import numpy as np
import pytest

import tfvae
from tests.helpers import fit_and_check_bounds
from tfvae import export
from tfvae.layers import MADE, InverseAutoregressiveFlow

rng = np.random.default_rng(2906)


def _randomise(layer):
    for w in layer.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))


def test_made_outputs_see_only_earlier_inputs():
    made = MADE(hidden_units=(12, 12), num_params=2)
    z, context = rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")
    made([z, context])
    _randomise(made)  # the last layer starts at zero: give every weight a value
    base = made([z, context]).numpy()
    for j in range(5):
        moved = z.copy()
        moved[:, j] += 1.0
        changed = np.abs(made([moved, context]).numpy() - base).max(axis=(0, 2)) > 0
        assert not changed[: j + 1].any()  # outputs 0..j do not depend on input j
        if j < 4:
            assert changed[j + 1 :].any()  # and some later one does
    assert np.abs(made([z, context + 1.0]).numpy() - base).max() > 0  # the context reaches the outputs


@pytest.mark.parametrize("num_steps", [1, 2, 3])
def test_the_flows_log_determinant_is_the_finite_difference_jacobians(num_steps):
    iaf = InverseAutoregressiveFlow(num_steps, hidden_units=(16,))
    z = rng.normal(size=(2, 4)).astype("float32")
    context = rng.normal(size=(2, 6)).astype("float32")
    iaf([z, context])
    _randomise(iaf)
    out, log_det = (t.numpy() for t in iaf([z, context]))
    h = 1e-2
    for b in range(2):
        jac = np.zeros((4, 4))
        for j in range(4):
            up, down = z.copy(), z.copy()
            up[b, j] += h
            down[b, j] -= h
            jac[:, j] = (iaf([up, context])[0].numpy()[b] - iaf([down, context])[0].numpy()[b]) / (2 * h)
        np.testing.assert_allclose(log_det[b], np.log(abs(np.linalg.det(jac))), atol=2e-3)


def test_a_vae_with_a_flow_posterior_trains_scores_consistently_round_trips_and_exports(tmp_path):
    keras.utils.set_random_seed(3)
    x = (rng.random((300, 4, 4, 1)) < 0.3).astype("float32")
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=3, hidden_units=(16,), posterior_flow=2, posterior_flow_units=(16,),
                        seed=0)
    # evaluate()'s -ELBO (one draw per image) and log_likelihood(k = 1) estimate the same ELBO with the flow's density.
    fit_and_check_bounds(vae, x)
    assert any("posterior_flow" in v.path for v in vae.trainable_variables)
    vae.save(tmp_path / "iaf.keras")
    loaded = keras.saving.load_model(tmp_path / "iaf.keras")
    np.testing.assert_allclose(loaded.reconstruct(x[:5]).numpy(), vae.reconstruct(x[:5]).numpy(), atol=1e-6)
    path = str(tmp_path / "reconstruct.tflite")
    export.export_tflite(vae, path, signature="serving_default")
    got = export.run_tflite(path, {"images": x[:5]})["reconstruction"]
    np.testing.assert_allclose(got, vae.reconstruct(x[:5]).numpy(), atol=1e-4)


def test_a_flow_does_not_go_with_dreg_and_its_arguments_are_checked():
    with pytest.raises(ValueError, match="dreg"):
        tfvae.VAE.mlp((4, 4, 1), 2, posterior_flow=2, gradient_estimator="dreg")
    with pytest.raises(ValueError, match="posterior_flow"):
        tfvae.VAE.mlp((4, 4, 1), 2, posterior_flow=-1)
    with pytest.raises(ValueError, match="posterior_flow_units"):
        tfvae.VAE.mlp((4, 4, 1), 2, posterior_flow=1, posterior_flow_units=(0,))
