import numpy as np
import pytest

import tfvae
from tfvae.callbacks import CodebookMonitor, NonFiniteLossError, StopOnNonFinite

rng = np.random.default_rng(0)


def test_reports_usage_perplexity_and_restarts(tmp_path):
    model = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=1, dead_code_steps=1)
    model.compile("adam")
    lines = []
    history = model.fit(rng.random((16, 8, 8, 1)).astype("float32"), batch_size=8, epochs=2, verbose=0,
                        callbacks=[CodebookMonitor(str(tmp_path / "tb"), printer=lines.append)])
    assert len(lines) == 2 and lines[1].startswith("codebook after epoch 2: usage")
    assert history.history["restarts"][-1] == int(model.quantizer.restarts.numpy())
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())


def test_monitor_needs_a_vq_model():
    vae = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    vae.compile("adam")
    with pytest.raises(ValueError, match="VQVAE"):
        vae.fit(rng.random((4, 4)).astype("float32"), epochs=1, verbose=0, callbacks=[CodebookMonitor(printer=None)])


def test_stop_on_non_finite_names_epoch_step_and_metric():
    cb = StopOnNonFinite()

    class Fake:
        class optimizer:
            class iterations:
                @staticmethod
                def numpy():
                    return 17

    cb.set_model(Fake())
    cb.on_epoch_begin(2)
    cb.on_train_batch_end(4, {"loss": 1.0})  # finite: nothing happens
    with pytest.raises(NonFiniteLossError, match=r"non-finite kl = nan at epoch 3, step 5 \(global step 17\)"):
        cb.on_train_batch_end(4, {"loss": 1.0, "kl": float("nan")})
