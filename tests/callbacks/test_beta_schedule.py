import keras
import numpy as np
import pytest

import tfvae
from tfvae.callbacks import BetaSchedule

rng = np.random.default_rng(0)


def _vae():
    vae = tfvae.VAE.mlp((6,), latent_dim=2, hidden_units=(8,), seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    return vae


def test_epoch_schedule_sets_the_kl_weight_and_logs_it():
    vae, seen = _vae(), []
    x = rng.random((40, 6)).astype("float32")
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(float(vae.kl_beta.numpy())))
    history = vae.fit(x, batch_size=10, epochs=3, verbose=0,
                      callbacks=[BetaSchedule(lambda epoch: 0.5 * epoch), record])
    assert seen == [0.0, 0.5, 1.0] and history.history["beta"] == [0.0, 0.5, 1.0]


def test_the_schedule_changes_the_training_objective_not_the_reported_loss():
    x = rng.random((40, 6)).astype("float32")
    free, weighted = _vae(), _vae()
    free.fit(x, batch_size=40, epochs=1, verbose=0, shuffle=False, callbacks=[BetaSchedule(lambda e: 0.0)])
    weighted.fit(x, batch_size=40, epochs=1, verbose=0, shuffle=False, callbacks=[BetaSchedule(lambda e: 5.0)])
    # The same start, different objectives: the KL weight reaches the gradients.
    assert not np.allclose(free.encoder.get_layer("log_var").get_weights()[0],
                           weighted.encoder.get_layer("log_var").get_weights()[0])


def test_per_step_schedule_uses_the_global_step():
    vae = _vae()
    vae.fit(rng.random((40, 6)).astype("float32"), batch_size=10, epochs=1, verbose=0,
            callbacks=[BetaSchedule(lambda step: step / 100.0, per_step=True)])
    assert float(vae.kl_beta.numpy()) == pytest.approx(0.03)  # set before the 4th step (global step 3)


def test_bad_schedules_are_refused():
    with pytest.raises(ValueError, match="callable"):
        BetaSchedule(0.5)
    vae = _vae()
    with pytest.raises(ValueError, match="beta=-1"):
        vae.fit(rng.random((10, 6)).astype("float32"), epochs=1, verbose=0, callbacks=[BetaSchedule(lambda e: -1)])
