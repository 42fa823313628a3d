"""The `tfvae` command line, driven as a user would.

Every training run, refusal case of note and kill goes through the installed
console script in a subprocess; the commands run on a trained model afterwards
(evaluate, sample, export) go through `cli.main` in the test's process: the
same parser and code paths without a TensorFlow start-up each, which keeps the
suite within its time budget. `test_python_module_entry_point_matches` checks
that the entry points agree.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data

TINY_VAE = ["--epochs", "2", "--train-examples", "600", "--hidden-units", "16", "--latent-dim", "2",
            "--iw-samples", "5", "--iw-examples", "20"]
TINY_VQ = ["--epochs", "1", "--train-examples", "300", "--hidden-filters", "8", "--residual-filters", "4",
           "--num-embeddings", "16", "--embedding-dim", "4"]


def tfvae(*args, timeout=600):
    exe = shutil.which("tfvae")
    assert exe, "the tfvae console script is not installed (pip install -e .)"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def ok(proc):
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-2000:]}\nSTDERR:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


def refused(proc, *texts):
    assert proc.returncode == 2, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("tfvae ") and "error:" in last, last  # one line, no traceback
    for text in texts:
        assert text in last, (text, last)


def png_shape(path):
    return tuple(tf.io.decode_png(open(path, "rb").read()).shape)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    real_data(data.load, "binarized_mnist", "test", 10)
    out = tmp_path_factory.mktemp("cli") / "vae"
    stdout = ok(tfvae("train", "vae", *TINY_VAE, "--image-every", "1", "--tensorboard", "--output-dir", out))
    return out, stdout


def test_train_vae_writes_model_figures_logs_checkpoints_and_exports(vae_run):
    out, stdout = vae_run
    assert "epoch 2/2: train -ELBO" in stdout and "test NLL (importance-weighted, k=5" in stdout
    for name in ("model.keras", "results.json", "samples.png", "reconstructions.png", "manifold.png",
                 "images/samples_epoch_002.png", "images/reconstructions_epoch_001.png",
                 "images/traversal_epoch_002.png", "checkpoints/latest", "1/saved_model.pb", "decode.tflite"):
        assert (out / name).exists(), name
    assert (out / "checkpoints" / "latest").read_text().strip() == "epoch-0001"
    assert any(f.startswith("events.out.tfevents") for _, _, fs in os.walk(out / "logs") for f in fs)


def test_evaluate_sample_and_export_a_trained_vae(vae_run, tmp_path, capsys):
    out, _ = vae_run
    # The model was trained by the console script (vae_run); the commands on it run through cli.main here
    # (same parser and code paths, no TensorFlow start-up each).
    figures = json.loads(ok_in_process(capsys, "evaluate", out / "model.keras", "--dataset", "binarized_mnist",
                                       "--examples", "50", "--iw-samples", "10", "--json"))
    assert figures["examples"] == 50 and figures["nll"] <= figures["loss"] + 5 and figures["bits_per_dim"] > 0
    ok_in_process(capsys, "sample", out / "model.keras", "-n", "12", "--columns", "4", "--out", tmp_path / "s.png")
    assert png_shape(tmp_path / "s.png") == (3 * 29 + 1, 4 * 29 + 1, 1)
    ok_in_process(capsys, "export", out / "model.keras", "--saved-model", tmp_path / "serving", "--tflite",
                  tmp_path / "d.tflite", "--quantization", "int8", "--dataset", "binarized_mnist")
    assert (tmp_path / "serving" / "1" / "saved_model.pb").is_file() and (tmp_path / "d.tflite").stat().st_size > 0
    # The exported SavedModel samples too, without the Keras file.
    ok_in_process(capsys, "sample", tmp_path / "serving" / "1", "-n", "4", "--out", tmp_path / "sm.png")
    assert png_shape(tmp_path / "sm.png")[2] == 1


def test_cvae_samples_the_asked_labels(tmp_path, capsys):
    real_data(data.load, "mnist", "test", 10)
    ok(tfvae("train", "cvae", *TINY_VAE, "--no-export", "--output-dir", tmp_path / "cvae"))
    ok_in_process(capsys, "sample", tmp_path / "cvae" / "model.keras", "-n", "8", "--labels", "3", "7",
                  "--out", tmp_path / "c.png")
    assert png_shape(tmp_path / "c.png") == (29 + 1, 8 * 29 + 1, 1)
    refused_in_process(capsys, ["sample", tmp_path / "cvae" / "model.keras", "-n", "2", "--labels", "12",
                                "--out", tmp_path / "x.png"], "labels must lie in [0, 10)")


def test_vqvae_and_prior_train_evaluate_and_sample(tmp_path, capsys):
    real_data(data.load, "mnist", "test", 10)
    vq = tmp_path / "vq"
    stdout = ok(tfvae("train", "vqvae", *TINY_VQ, "--prior-epochs", "1", "--prior-filters", "8", "--prior-layers", "2",
                      "--quantizer", "ema",
                      "--num-samples", "10", "--output-dir", vq))
    assert "codebook after epoch 1: usage" in stdout and "bits/dim" in stdout
    # Training runs as a user runs it; the commands after it in this process (same parser and code paths).
    figures = json.loads(ok_in_process(capsys, "evaluate", vq / "model.keras", "--dataset", "mnist", "--examples",
                                       "200", "--prior", vq / "prior.keras", "--json"))
    assert 0 < figures["codebook_usage"] <= 1 and figures["nll_bound_bits_per_dim"] > 0
    ok_in_process(capsys, "train", "prior", "--vqvae", vq / "model.keras", "--epochs", "1", "--train-examples", "300",
                  "--prior-filters", "8", "--prior-layers", "2", "--early-stopping", "2",
                  "--output-dir", tmp_path / "prior")
    # The prior's run gets the training flags' callbacks too (their state is in its checkpoint).
    state = json.loads((tmp_path / "prior" / "checkpoints" / "epoch-0000" / "state.json").read_text())
    assert [c["class"] for c in state["callbacks"]] == ["EarlyStopping"]
    prior_figures = json.loads(ok_in_process(capsys, "evaluate", tmp_path / "prior" / "prior.keras", "--dataset",
                                             "mnist", "--vqvae", vq / "model.keras", "--examples", "200", "--json"))
    assert prior_figures["bits_per_code"] > 0
    ok_in_process(capsys, "sample", vq / "model.keras", "--prior", tmp_path / "prior" / "prior.keras", "-n", "6",
                  "--columns", "6", "--out", tmp_path / "v.png")
    assert png_shape(tmp_path / "v.png") == (29 + 1, 6 * 29 + 1, 1)
    refused_in_process(capsys, ["sample", vq / "model.keras", "-n", "2", "--out", tmp_path / "y.png"], "needs --prior")


def _weights(path):
    import keras

    import tfvae  # noqa: F401

    return [w.numpy() for w in keras.saving.load_model(path).weights]


KILLER = """
import os, signal, sys
from tfvae import cli, callbacks
kill_at = int(sys.argv[1])
original = callbacks.StopOnNonFinite.on_train_batch_end
def on_train_batch_end(self, batch, logs=None):
    original(self, batch, logs)
    # Batch callbacks run once per execution (steps_per_execution): the first from kill_at on.
    if int(self.model.optimizer.iterations.numpy()) >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # a real kill, before the epoch's checkpoint
callbacks.StopOnNonFinite.on_train_batch_end = on_train_batch_end
sys.exit(cli.main(sys.argv[2:]))
"""


# A run whose test loss stalls (--min-delta 5 nats) so that ReduceLROnPlateau halves the
# learning rate after epochs 7, 8 and 9 and EarlyStopping ends it after epoch 9 of 10
# (seen in the straight run below). 300 examples / batch 100: 3 steps per epoch.
STALLING = ["train", "vae", "--epochs", "10", "--train-examples", "300", "--hidden-units", "16", "--latent-dim", "2",
            "--iw-samples", "0", "--no-export", "--deterministic", "--seed", "7", "--learning-rate", "0.1",
            "--early-stopping", "3", "--reduce-lr", "1", "--min-delta", "5"]


def test_killed_mid_epoch_and_resumed_reaches_the_same_weights_early_stop_and_lr_reductions(tmp_path):
    real_data(data.load, "binarized_mnist", "test", 10)
    straight = ok(tfvae(*STALLING, "--output-dir", tmp_path / "straight"))
    assert "Epoch 9: early stopping" in straight and "epoch 10/10" not in straight
    assert straight.count("ReduceLROnPlateau reducing learning rate") >= 2
    state = json.loads((tmp_path / "straight" / "checkpoints" / "epoch-0008" / "state.json").read_text())
    assert state["stop_training"] and [c["class"] for c in state["callbacks"]] == ["EarlyStopping", "ReduceLROnPlateau"]

    # Killed in epoch 8 (3 steps per epoch, run in one execution: at its end, step 24, before the epoch ends),
    # after the first reductions; resumed from epoch 7's checkpoint.
    killed = subprocess.run([sys.executable, "-c", KILLER, "23", *STALLING, "--output-dir", str(tmp_path / "resumed")],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert (tmp_path / "resumed" / "checkpoints" / "latest").read_text().strip() == "epoch-0006"
    resumed = ok(tfvae(*STALLING, "--resume", "--output-dir", tmp_path / "resumed"))
    # Without the callbacks' saved state the resumed run would start their counters afresh,
    # not lower the rate after epoch 8 and not stop after epoch 9.
    assert "epoch 8 of 10" in resumed and "Epoch 9: early stopping" in resumed and "epoch 10/10" not in resumed
    for a, b in zip(_weights(tmp_path / "straight" / "model.keras"), _weights(tmp_path / "resumed" / "model.keras")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # A stopped run stays stopped when resumed again.
    again = ok(tfvae(*STALLING, "--resume", "--output-dir", tmp_path / "resumed"))
    assert "stopped after epoch 9 by a callback" in again and "epoch 10/10" not in again


CHECKPOINT_KILLER = """
import os, signal, sys
from tfvae import checkpoint, cli
calls = []
def before_publish(path):
    calls.append(path)
    if len(calls) == 2:  # the second checkpoint is fully written in its temporary folder: die before publishing
        os.kill(os.getpid(), signal.SIGKILL)
checkpoint._before_publish = before_publish
sys.exit(cli.main(sys.argv[1:]))
"""


def test_crash_while_writing_a_checkpoint_leaves_the_previous_one_loadable(tmp_path):
    real_data(data.load, "binarized_mnist", "test", 10)
    args = ["train", "vae", "--epochs", "3", "--train-examples", "500", "--hidden-units", "8", "--latent-dim", "2",
            "--iw-samples", "0", "--no-export", "--output-dir", str(tmp_path / "run")]
    killed = subprocess.run([sys.executable, "-c", CHECKPOINT_KILLER, *args], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert killed.returncode == -9
    ckpt = tmp_path / "run" / "checkpoints"
    assert (ckpt / "latest").read_text().strip() == "epoch-0000"
    from tfvae.checkpoint import latest_checkpoint, load_checkpoint

    model, state = load_checkpoint(latest_checkpoint(str(ckpt)))
    assert state["epoch"] == 0 and model.count_params() > 0
    stdout = ok(tfvae(*args, "--resume"))
    assert "Resuming from" in stdout and (ckpt / "latest").read_text().strip() == "epoch-0002"


def ok_in_process(capsys, *argv):
    """cli.main in this process (no TensorFlow start-up of its own); returns what it printed."""
    from tfvae import cli

    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err[-2000:]
    return out.out


def refused_in_process(capsys, argv, *texts):
    """cli.main in this process: the same parser and messages, without a TensorFlow start-up per case."""
    from tfvae import cli

    assert cli.main([str(a) for a in argv]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"tfvae {argv[0]}: error:"), last
    for text in texts:
        assert text in last, (text, last)


def test_bad_inputs_are_refused_with_one_clear_line(tmp_path, vae_run, capsys):
    out, _ = vae_run
    (tmp_path / "junk.keras").write_bytes(b"\x00garbage" * 100)
    refused(tfvae("evaluate", tmp_path / "junk.keras", "--dataset", "mnist"), "not a .keras model file")  # as a user
    whole = (out / "model.keras").read_bytes()
    (tmp_path / "truncated.keras").write_bytes(whole[: len(whole) // 2])
    refused_in_process(capsys, ["sample", tmp_path / "truncated.keras", "--out", tmp_path / "t.png"], "truncated.keras")
    refused_in_process(capsys, ["evaluate", tmp_path / "missing.keras", "--dataset", "mnist"], "no such model file")
    refused_in_process(capsys, ["sample", out / "images", "--out", tmp_path / "n.png"], "is not a SavedModel folder")
    refused_in_process(capsys, ["sample", out, "--out", tmp_path / "n.png"], "It holds versions [1]")
    refused_in_process(capsys, ["evaluate", out / "model.keras", "--dataset", "mnsit"], "Unknown data set 'mnsit'")
    refused_in_process(capsys, ["evaluate", out / "model.keras", "--dataset", "frey_face"],
                       "expected images of shape (batch, 28, 28, 1)")
    refused_in_process(capsys, ["export", out / "model.keras", "--saved-model", out, "--version", 1], "exists")
    assert not (tmp_path / "t.png").exists() and not (tmp_path / "n.png").exists()  # nothing half-written


@pytest.mark.parametrize("argv, text", [
    (["train", "vae", "--epochs", "-3"], "argument --epochs: must be an integer >= 1; received -3"),
    (["train", "vae", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1; received 0"),
    (["train", "vae", "--learning-rate", "-1"], "argument --learning-rate: must be a number > 0; received -1"),
    (["train", "vae", "--learning-rate", "nan"], "argument --learning-rate: must be a number > 0; received nan"),
    (["train", "vae", "--latent-dim", "0"], "argument --latent-dim: must be an integer >= 1; received 0"),
    (["train", "cvae", "--hidden-units", "8", "-2"], "argument --hidden-units: must be an integer >= 1; received -2"),
    (["train", "vqvae", "--decay", "1"], "argument --decay: must be a number >= 0 and < 1; received 1"),
    (["train", "vqvae", "--prior-kernel-size", "4"], "argument --prior-kernel-size: must be an odd integer >= 1"),
    (["train", "vqvae", "--num-embeddings", "1"], "argument --num-embeddings: must be an integer >= 2; received 1"),
    (["train", "vae", "--epochs", "two"], "argument --epochs: must be an integer >= 1; received 'two'"),
])
def test_bad_flags_are_refused_up_front_in_one_line(tmp_path, capsys, argv, text):
    from tfvae import cli

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--output-dir", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tfvae {' '.join(argv[:2])}: error:"), err
    assert text in err[0], err[0]
    assert not out.exists()  # refused before any work


def test_output_paths_are_checked_or_created(tmp_path, vae_run, capsys):
    from tfvae import cli

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["train", "vae", "--output-dir", str(a_file)])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument --output-dir: {a_file} is a file; expected a folder" in err[0], err
    with pytest.raises(SystemExit):
        cli.main(["sample", str(vae_run[0] / "model.keras"), "--out", str(a_file / "x.png")])
    assert f"{a_file} is a file, so" in capsys.readouterr().err
    # A missing folder for the PNG is created.
    target = tmp_path / "new" / "deeper" / "samples.png"
    assert cli.main(["sample", str(vae_run[0] / "model.keras"), "-n", "4", "--out", str(target)]) == 0
    assert target.stat().st_size > 0


def test_evaluate_gives_no_bits_per_dim_where_the_likelihood_is_no_probability(vae_run, capsys):
    from tfvae import cli

    model = str(vae_run[0] / "model.keras")  # a Bernoulli VAE
    args = ["evaluate", model, "--examples", "50", "--iw-samples", "0", "--json"]
    assert cli.main([*args, "--dataset", "binarized_mnist"]) == 0
    assert '"bits_per_dim"' in capsys.readouterr().out
    assert cli.main([*args, "--dataset", "mnist"]) == 0  # grey levels: the -ELBO is no probability of them
    captured = capsys.readouterr()
    assert '"bits_per_dim"' not in captured.out and '"loss"' in captured.out
    assert "no bits/dim" in captured.err and "binary images" in captured.err


NAN_MAKER = """
import sys
from tfvae import callbacks, cli
original = callbacks.StopOnNonFinite.on_epoch_begin
def on_epoch_begin(self, epoch, logs=None):
    original(self, epoch, logs)
    if epoch == 1:
        self.model.optimizer.learning_rate.assign(1e9)  # epoch 2 diverges
callbacks.StopOnNonFinite.on_epoch_begin = on_epoch_begin
sys.exit(cli.main(sys.argv[1:]))
"""


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    real_data(data.load, "binarized_mnist", "test", 10)
    args = ["train", "vae", "--epochs", "3", "--train-examples", "500", "--hidden-units", "8", "--latent-dim", "2",
            "--iw-samples", "0", "--no-export", "--likelihood", "gaussian", "--output-dir", str(tmp_path / "nan")]
    proc = subprocess.run([sys.executable, "-c", NAN_MAKER, *args], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    refused(proc, "non-finite", "at epoch 2", "global step")
    assert (tmp_path / "nan" / "checkpoints" / "latest").read_text().strip() == "epoch-0000"
    from tfvae.checkpoint import latest_checkpoint, load_checkpoint

    model, _ = load_checkpoint(latest_checkpoint(str(tmp_path / "nan" / "checkpoints")))
    assert all(np.all(np.isfinite(w.numpy())) for w in model.weights)
    assert not (tmp_path / "nan" / "model.keras").exists()


def test_autoencoders_train_sample_and_export(tmp_path, capsys):
    real_data(data.load, "mnist", "test", 10)
    tiny = ["--epochs", "1", "--train-examples", "300", "--hidden-units", "16", "--latent-dim", "3"]
    stdout = ok(tfvae("train", "ae", *tiny, "--noise-stddev", "0.3", "--dropout", "0.1", "--image-every", "1",
                      "--output-dir", tmp_path / "dae"))
    assert (
        "Training a denoising autoencoder (mlp, squared_error, code size 3)" in stdout
        and "epoch 1/1: train reconstruction" in stdout
    )
    for name in ("model.keras", "reconstructions.png", "denoised.png", "images/reconstructions_epoch_001.png",
                 "1/saved_model.pb", "encode.tflite", "decode.tflite"):
        assert (tmp_path / "dae" / name).exists(), name
    assert png_shape(tmp_path / "dae" / "denoised.png") == (10 * 29 + 1, 9 * 29 + 1, 1)
    results = json.loads((tmp_path / "dae" / "results.json").read_text())
    assert results["test_loss"] > 0 and "test_mmd" not in results
    refused(tfvae("sample", tmp_path / "dae" / "model.keras", "-n", "2", "--out", tmp_path / "x.png"),
            "cannot generate images")

    stdout = ok(tfvae("train", "aae", *tiny, "--discriminator-units", "8", "--output-dir", tmp_path / "aae"))
    assert "MMD^2 to N(0, I)" in stdout
    results = json.loads((tmp_path / "aae" / "results.json").read_text())
    assert {"test_loss", "test_discriminator_loss", "test_generator_loss", "test_mmd"} <= set(results)
    ok(tfvae("sample", tmp_path / "aae" / "model.keras", "-n", "6", "--columns", "3", "--out", tmp_path / "a.png"))
    assert png_shape(tmp_path / "a.png") == (2 * 29 + 1, 3 * 29 + 1, 1)
    assert png_shape(tmp_path / "aae" / "samples.png") == (10 * 29 + 1, 10 * 29 + 1, 1)
    assert "sample" in tf.saved_model.load(str(tmp_path / "aae" / "1")).signatures

    # The class-conditional prior: trained on labels, sampled and evaluated with them.
    stdout = ok(tfvae("train", "aae", *tiny, "--discriminator-units", "8", "--conditional", "--no-export",
                      "--output-dir", tmp_path / "saae"))
    assert "class-conditional prior" in stdout and "MMD^2 to p(z|y)" in stdout
    import keras

    model = keras.saving.load_model(tmp_path / "saae" / "model.keras")
    assert model.num_classes == 10 and np.asarray(model.prior_means).shape == (10, 3)
    # In this process: the same parser and code paths without another TensorFlow start-up.
    ok_in_process(capsys, "sample", tmp_path / "saae" / "model.keras", "-n", "4", "--columns", "4", "--labels", "3",
                  "--out", tmp_path / "s.png")
    assert png_shape(tmp_path / "s.png") == (29 + 1, 4 * 29 + 1, 1)
    results = json.loads(ok_in_process(capsys, "evaluate", tmp_path / "saae" / "model.keras", "--dataset", "mnist",
                                       "--examples", "50", "--json"))
    assert {"loss", "mmd"} <= set(results)
    refused_in_process(capsys, ["train", "aae", *tiny, "--conditional", "--dataset", "binarized_mnist",
                                "--output-dir", tmp_path / "no"], "has no labels")


def test_help_explains_every_subcommand(capsys):
    from tfvae import cli

    assert "usage: tfvae" in ok(tfvae("--help"))  # the installed console script
    for args in (["train", "vae"], ["train", "cvae"], ["train", "ae"], ["train", "aae"], ["train", "vqvae"],
                 ["train", "prior"], ["evaluate"],
                 ["sample"], ["export"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*args, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert f"usage: tfvae {' '.join(args)}" in text
        # every option has a help text
        options = [line for line in text.splitlines() if line.strip().startswith("--")]
        assert options and all(len(line.split()) > 1 or "--" in line for line in options)
    cli_text = "\n".join(cli.parser.build_parser().format_help().splitlines())
    assert "train" in cli_text and "export" in cli_text


def test_python_module_entry_point_matches(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tfvae.cli", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "train" in proc.stdout




def argparse_namespace(d):
    import argparse

    return argparse.Namespace(**d)


def test_model_flags_not_given_leave_the_constructors_defaults():
    import inspect

    from tfvae import VAE, VQVAE, PixelCNNPrior, cli

    parser = cli.parser.build_parser()
    vq = parser.parse_args(["train", "vqvae", "--output-dir", "x"])
    assert cli.parser.model_args(vq, "vq_") == {} and cli.parser.model_args(vq, "pixelcnn_") == {}
    vae = parser.parse_args(["train", "cvae", "--output-dir", "x"])
    assert cli.parser.model_args(vae, "vae_") == {"latent_dim": 20}  # VAE.mlp has no default latent size
    assert vae.iw_samples is None  # VAE.log_likelihood's k
    # Each model flag names a constructor argument, so a flag given reaches the model under its own name.
    given = parser.parse_args(["train", "vqvae", "--output-dir", "x", "--hidden-filters", "8", "--downsamplings", "1",
                               "--prior-layers", "3", "--quantizer", "ema"])
    assert cli.parser.model_args(given, "vq_") == {"hidden_filters": 8, "num_downsamplings": 1, "quantizer": "ema"}
    assert cli.parser.model_args(given, "pixelcnn_") == {"num_layers": 3}
    everything = {**vars(parser.parse_args(["train", "vqvae", "--output-dir", "x"]))}
    names = {k[3:] for k in everything if k.startswith("vq_")} | {
        k[9:] for k in everything if k.startswith("pixelcnn_")
    }
    accepted = (set(inspect.signature(VQVAE.conv).parameters) | set(inspect.signature(VQVAE.resnet).parameters)
                | set(inspect.signature(PixelCNNPrior).parameters))
    assert names <= accepted, names - accepted
    from tfvae import AdversarialAutoencoder, Autoencoder

    aae = vars(parser.parse_args(["train", "aae", "--output-dir", "x"]))
    assert cli.parser.model_args(argparse_namespace(aae), "ae_") == {"latent_dim": 8}
    ae_names = {k[3:] for k in aae if k.startswith("ae_")}
    # AdversarialAutoencoder's builders and constructor pass the Autoencoder's arguments on.
    assert ae_names <= set().union(*(inspect.signature(f).parameters for f in (
        AdversarialAutoencoder.mlp, AdversarialAutoencoder, Autoencoder.mlp, Autoencoder))), ae_names
    vae_names = {k[4:] for k in vars(vae) if k.startswith("vae_")}
    # The resnet flags name VAE.resnet's arguments.
    assert vae_names <= (set(inspect.signature(VAE.mlp).parameters) | set(inspect.signature(VAE.resnet).parameters)
                         | set(inspect.signature(VAE).parameters))
