import os

import numpy as np
import pytest

import tfvae
from tfvae import checkpoint


def _model():
    vae = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    vae.compile("adam")
    vae.fit(np.random.default_rng(0).random((8, 4)).astype("float32"), batch_size=4, verbose=0)
    return vae


def test_write_latest_load_and_keep(tmp_path):
    model = _model()
    for epoch in range(3):
        checkpoint.write_checkpoint(str(tmp_path), model, {"epoch": epoch, "seed": 1}, keep=2)
    assert sorted(d for d in os.listdir(tmp_path) if d.startswith("epoch-")) == ["epoch-0001", "epoch-0002"]
    loaded, state = checkpoint.load_checkpoint(checkpoint.latest_checkpoint(str(tmp_path)))
    assert state == {"epoch": 2, "seed": 1}
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy())  # optimizer state too
    assert not [d for d in os.listdir(tmp_path) if d.startswith(".tmp")]


def test_no_checkpoint_yet_and_damaged_ones(tmp_path):
    assert checkpoint.latest_checkpoint(str(tmp_path)) is None
    (tmp_path / "latest").write_text("epoch-0007\n")
    with pytest.raises(checkpoint.CheckpointError, match="not a checkpoint folder"):
        checkpoint.latest_checkpoint(str(tmp_path))
    (tmp_path / "epoch-0007").mkdir()
    with pytest.raises(checkpoint.CheckpointError, match="model.keras is missing"):
        checkpoint.load_checkpoint(str(tmp_path / "epoch-0007"))


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = _model()
    checkpoint.write_checkpoint(str(tmp_path), model, {"epoch": 0})

    def fail(path):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_before_publish", fail)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.write_checkpoint(str(tmp_path), model, {"epoch": 1})
    assert (tmp_path / "latest").read_text().strip() == "epoch-0000"
    assert sorted(os.listdir(tmp_path)) == ["epoch-0000", "latest"]
    checkpoint.load_checkpoint(checkpoint.latest_checkpoint(str(tmp_path)))
