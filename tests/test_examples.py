"""The example scripts run end to end on tiny settings, as a user would run them."""

import json
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data


def test_train_vae_example_writes_its_outputs(tmp_path):
    real_data(data.load, "binarized_mnist", "test", 10)
    out_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "examples/train_vae.py", "--epochs", "2", "--train-examples", "1000",
         "--latent-dim", "2", "--hidden-units", "64", "--iw-samples", "20", "--iw-examples", "50",
         "--output-dir", str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "epoch 1/2: train -ELBO" in proc.stdout and "epoch 2/2" in proc.stdout and "test -ELBO" in proc.stdout
    assert "test NLL (importance-weighted, k=20, 50 images)" in proc.stdout
    results = json.loads((out_dir / "results.json").read_text())
    assert results["iw_samples"] == 20 and np.isfinite(results["test_nll"])
    for name, shape in (("samples.png", (10 * 29 + 1, 10 * 29 + 1, 1)),
                        ("reconstructions.png", (10 * 29 + 1, 10 * 29 + 1, 1)),
                        ("manifold.png", (20 * 29 + 1, 20 * 29 + 1, 1))):
        assert tf.io.decode_png((out_dir / name).read_bytes()).shape == shape
    assert (out_dir / "model.keras").stat().st_size > 0
    # Exported for TF Serving (version folder) and LiteRT.
    assert (out_dir / "1" / "saved_model.pb").is_file() and (out_dir / "decode.tflite").stat().st_size > 0
    assert results["saved_model"].endswith("/1") and len(results["tflite"]) == 2


def test_train_vae_example_help():
    proc = subprocess.run([sys.executable, "examples/train_vae.py", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--latent-dim" in proc.stdout and "--iw-samples" in proc.stdout


def test_train_vqvae_example_runs_both_stages(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    out_dir = tmp_path / "vq"
    proc = subprocess.run(
        [sys.executable, "examples/train_vqvae.py", "--epochs", "1", "--train-examples", "1000",
         "--hidden-filters", "16", "--residual-filters", "8", "--num-embeddings", "32", "--embedding-dim", "4",
         "--quantizer", "ema", "--prior-epochs", "1", "--prior-filters", "8", "--prior-layers", "2",
         "--conditional", "--num-samples", "20", "--output-dir", str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in ("epoch 1/1: train normalised MSE", "test normalised MSE", "nats/grid", "bits/code",
                 "prior: test", "NLL bound", "bits/dim"):
        assert text in proc.stdout, text
    results = json.loads((out_dir / "results.json").read_text())
    assert results["quantizer"] == "ema" and 0 < results["test_codebook_usage"] <= 1
    assert results["test_nll_bound_bits_per_dim"] > 0 and results["prior_test_bits_per_code"] > 0
    assert tf.io.decode_png((out_dir / "samples.png").read_bytes()).shape == (2 * 29 + 1, 10 * 29 + 1, 1)
    assert (out_dir / "prior.keras").stat().st_size > 0
    assert (out_dir / "1" / "saved_model.pb").is_file() and (out_dir / "encode.tflite").stat().st_size > 0
    assert tf.io.decode_png((out_dir / "reconstructions.png").read_bytes()).shape == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert tf.io.decode_png((out_dir / "codes.png").read_bytes()).shape == (4 * 29 + 1, 10 * 29 + 1, 3)
    assert (out_dir / "model.keras").stat().st_size > 0
