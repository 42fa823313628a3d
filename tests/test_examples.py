"""Every example runs end to end with --smoke, as a user would run it, and writes what it says it writes."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data

EXAMPLES = ROOT / "examples"
# serving_client.py talks to a running TF Serving; tests/test_serving.py drives it against a stub server.
NEEDS_A_SERVER = {"serving_client.py"}


def run_example(name, *args, timeout=600):
    real_data(data.load, "mnist", "test", 10)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--smoke", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"STDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-3000:]}"
    return proc


def png_shape(path):
    return tuple(tf.io.decode_png(path.read_bytes()).shape)


def test_every_example_is_run_here_and_none_calls_the_cli():
    tested = {"train_vqvae.py", "train_vae.py", "conditional_vae.py", "custom_networks.py",
              "distributed_training.py", "export_and_serve.py", "denoising_autoencoder.py",
              "adversarial_autoencoder.py", "your_images.py"}
    found = {p.name for p in EXAMPLES.glob("*.py")}
    assert found - NEEDS_A_SERVER == tested
    for name in tested:
        text = (EXAMPLES / name).read_text()
        assert "tfvae.cli" not in text and "from tfvae import cli" not in text, name
        assert ".fit(" in text, name


def test_train_vqvae_writes_the_main_jobs_files(tmp_path):
    proc = run_example("train_vqvae.py", "--output-dir", tmp_path)
    assert "VQ-VAE test: normalised MSE" in proc.stdout and "bits per code" in proc.stdout
    assert "two-stage test NLL bound" in proc.stdout
    # Quiet: no warning caused by how the example calls Keras or TensorFlow.
    assert "shuffle=True" not in proc.stderr and "Ignoring Assert" not in proc.stderr, proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert 0 < results["test_codebook_usage"] <= 1 and results["test_nll_bound_bits_per_dim"] > 0
    assert png_shape(tmp_path / "samples.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert png_shape(tmp_path / "reconstructions.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert png_shape(tmp_path / "codes.png") == (4 * 29 + 1, 10 * 29 + 1, 3)
    for name in ("model.keras", "prior.keras", "encode.tflite", "decode.tflite"):
        assert (tmp_path / name).stat().st_size > 0, name
    log = (tmp_path / "training_log.csv").read_text().splitlines()  # the smoke run's one epoch
    assert len(log) == 2 and {"epoch", "codebook_usage", "val_codebook_usage"} <= set(log[0].split(","))
    loaded = tf.saved_model.load(str(tmp_path / "1"))
    assert {"encode", "decode", "sample"} <= set(loaded.signatures)
    assert results["saved_model"].endswith("/1")


def test_train_vae_writes_its_outputs_and_the_manifold(tmp_path):
    proc = run_example("train_vae.py", "--latent-dim", "2", "--output-dir", tmp_path)
    assert "test -ELBO" in proc.stdout and "importance-weighted NLL (k=20)" in proc.stdout
    assert "same decoder output True" in proc.stdout
    assert "shuffle=True" not in proc.stderr
    assert png_shape(tmp_path / "manifold.png") == (20 * 29 + 1, 20 * 29 + 1, 1)
    assert png_shape(tmp_path / "samples.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["iw_samples"] == 20 and results["test_nll"] > 0
    assert (tmp_path / "1" / "saved_model.pb").is_file() and (tmp_path / "decode.tflite").stat().st_size > 0


@pytest.mark.parametrize("conditioning", ["inputs", "prior_mean"])
def test_conditional_vae_writes_the_asked_digit(tmp_path, conditioning):
    proc = run_example("conditional_vae.py", "--digit", "3", "--conditioning", conditioning, "--output-dir", tmp_path)
    assert "64 samples of the digit 3" in proc.stdout
    assert png_shape(tmp_path / "digit.png") == (8 * 29 + 1, 8 * 29 + 1, 1)


def test_custom_networks_train_a_vae_and_a_vqvae():
    proc = run_example("custom_networks.py")
    assert "conv VAE: test -ELBO" in proc.stdout and "VQ-VAE: test normalised MSE" in proc.stdout


def test_distributed_training_runs_on_two_devices():
    proc = run_example("distributed_training.py")
    assert "training on 2 devices" in proc.stdout and "test -ELBO" in proc.stdout


def test_export_and_serve_round_trip(tmp_path):
    proc = run_example("export_and_serve.py", "--output-dir", tmp_path)
    assert "'sample'" in proc.stdout and "sample(seed=[1, 2, 3]) -> images (3, 28, 28, 1)" in proc.stdout
    assert '"signature_name": "sample"' in proc.stdout
    difference = float(proc.stdout.split("differs from the Keras model by at most ")[1].split()[0])
    assert difference < 1e-5


def test_denoising_autoencoder_compares_with_a_plain_one(tmp_path):
    proc = run_example("denoising_autoencoder.py", "--output-dir", tmp_path)
    assert "squared error to the clean test images: noisy input" in proc.stdout
    assert "shuffle=True" not in proc.stderr
    assert png_shape(tmp_path / "denoised.png") == (5 * 29 + 1, 8 * 29 + 1, 1)


def test_adversarial_autoencoder_samples_saves_and_exports(tmp_path):
    proc = run_example("adversarial_autoencoder.py", "--output-dir", tmp_path)
    assert "MMD^2 of the codes to N(0, I)" in proc.stdout and "shuffle=True" not in proc.stderr
    assert png_shape(tmp_path / "samples.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert "sample" in tf.saved_model.load(str(tmp_path / "1")).signatures


def test_adversarial_autoencoder_with_the_class_conditional_prior(tmp_path):
    proc = run_example("adversarial_autoencoder.py", "--conditional", "--output-dir", tmp_path)
    assert "codes nearest their own digit's mean" in proc.stdout
    assert png_shape(tmp_path / "samples.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    signature = tf.saved_model.load(str(tmp_path / "1")).signatures["sample"]
    assert "label" in signature.structured_input_signature[1]


def test_your_images_trains_on_a_folder_and_writes_samples(tmp_path):
    proc = run_example("your_images.py", "--output-dir", tmp_path)
    assert "images of (16, 16, 3), 2 classes" in proc.stdout and "codebook usage" in proc.stdout
    assert png_shape(tmp_path / "samples.png") == (4 * 17 + 1, 4 * 17 + 1, 3)
    assert (tmp_path / "vqvae.keras").stat().st_size > 0 and (tmp_path / "prior.keras").stat().st_size > 0
