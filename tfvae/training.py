"""End-to-end training runs shared by `examples/` and the command line.

Each function takes plain arguments, trains, evaluates, writes its figures and
model into `output_dir`, prints progress, and returns a dict of the measured
figures (also written as `results.json`).
"""

import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfvae import data, images
from tfvae.models import VAE, ConditionalVAE

__all__ = ["EpochReport", "train_vae"]


class EpochReport(keras.callbacks.Callback):
    """Prints one line per epoch: train and test -ELBO (nats per example)."""

    def __init__(self, total_epochs, printer=print):
        super().__init__()
        self.total_epochs = total_epochs
        self.printer = printer

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        line = f"epoch {epoch + 1}/{self.total_epochs}: train -ELBO {logs.get('loss', float('nan')):.2f}"
        if "val_loss" in logs:
            line += f", test -ELBO {logs['val_loss']:.2f}"
        self.printer(line + " nats", flush=True)


def _write_json(path, payload):
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


def train_vae(
    dataset="binarized_mnist",
    architecture="mlp",
    latent_dim=20,
    hidden_units=(500,),
    likelihood=None,
    conditional=False,
    binarize=None,
    epochs=10,
    batch_size=100,
    learning_rate=1e-3,
    beta=1.0,
    kl_warmup_steps=0,
    train_examples=None,
    iw_samples=1000,
    iw_examples=None,
    output_dir="saved_models/vae",
    seed=0,
    verbose=1,
):
    """Trains a (conditional) Gaussian VAE and writes its model, figures and figures of merit.

    Args:
        dataset: str. A name of `tfvae.data.DATASETS`.
        architecture: str. "mlp" (the AEVB paper's) or "conv".
        latent_dim: int. Latent dimensions (2 also writes the latent manifold).
        hidden_units: tuple of int. MLP hidden layers (first entry for "conv").
        likelihood: str or None. None: "bernoulli" for binary data (or with
            `binarize`), else "gaussian".
        conditional: bool. Train a `ConditionalVAE` on the labels.
        binarize: None or "dynamic". Fresh Bernoulli draws of grey levels each
            epoch; the test set is binarised once with a fixed seed.
        epochs, batch_size, learning_rate: training settings (Adam).
        beta, kl_warmup_steps: KL weight and its linear warm-up (see `VAE`).
        train_examples: int or None. Use only the first n training examples.
        iw_samples: int. k of the importance-weighted test NLL (0 skips it).
        iw_examples: int or None. Test images for the NLL (None: all).
        output_dir: str. Receives model.keras, samples.png, reconstructions.png,
            manifold.png (2-D latents) and results.json.
        seed: int. Seeds weights, data order and noise.
        verbose: int. 0 silent, 1 one line per epoch, 2 Keras' progress bar too.

    Returns:
        dict of the measured figures.
    """
    info = data.dataset_info(dataset)
    say = print if verbose else (lambda *a, **k: None)
    if likelihood is None:
        likelihood = "bernoulli" if (info.binary or binarize) else "gaussian"
    keras.utils.set_random_seed(seed)
    split = "train" if train_examples is None else f"train[:{int(train_examples)}]"
    common = dict(with_labels=conditional, binarize=binarize)
    train_ds = data.load(dataset, split, batch_size, seed=seed, **common)
    test = data.load_arrays(dataset, "test", with_labels=conditional)
    x_test, y_test = test if conditional else (test, None)
    if binarize:
        # One fixed binarisation of the test set, as in the IWAE paper's evaluation.
        x_test = (np.random.default_rng(seed).random(x_test.shape) < x_test).astype(np.float32)
    test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test) if conditional else x_test).batch(500)

    cls = ConditionalVAE if conditional else VAE
    extra = {"num_classes": info.num_classes} if conditional else {}
    hidden = tuple(int(h) for h in (hidden_units if np.ndim(hidden_units) else (hidden_units,)))
    model_args = dict(likelihood=likelihood, beta=beta, kl_warmup_steps=kl_warmup_steps, seed=seed, **extra)
    if architecture == "mlp":
        model = cls.mlp(info.image_shape, latent_dim, hidden_units=hidden, **model_args)
    elif architecture == "conv":
        model = cls.conv(info.image_shape, latent_dim, hidden_units=hidden[0], **model_args)
    else:
        raise ValueError(f"`architecture` must be 'mlp' or 'conv'; received architecture={architecture!r}.")
    model.compile(keras.optimizers.Adam(learning_rate))
    say(f"Training a {type(model).__name__} ({architecture}, {likelihood}, latent {latent_dim}) "
        f"on {dataset} {split} for {epochs} epochs; {model.count_params():,} parameters.", flush=True)

    start = time.perf_counter()
    history = model.fit(train_ds, validation_data=test_ds, epochs=epochs,
                        verbose=2 if verbose > 1 else 0, callbacks=[EpochReport(epochs, say)] if verbose else [])
    train_seconds = time.perf_counter() - start
    results = {
        "dataset": dataset,
        "architecture": architecture,
        "latent_dim": latent_dim,
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
        "train_nelbo": float(history.history["loss"][-1]),
        "test_nelbo": float(history.history["val_loss"][-1]),
        "test_kl": float(history.history["val_kl"][-1]),
    }
    if iw_samples:
        start = time.perf_counter()
        m = len(x_test) if iw_examples is None else int(iw_examples)
        log_px = model.log_likelihood(x_test[:m], None if y_test is None else y_test[:m],
                                      num_samples=iw_samples, seed=seed)
        results.update(test_nll=float(-log_px.mean()), iw_samples=iw_samples, iw_examples=m,
                       iw_seconds=round(time.perf_counter() - start, 1))
        say(f"test NLL (importance-weighted, k={iw_samples}, {m} images): "
            f"{results['test_nll']:.2f} nats", flush=True)
    if likelihood == "bernoulli":
        # Bits per dimension mean something for discrete data only, not for densities.
        results["test_nelbo_bits_per_dim"] = results["test_nelbo"] / (math.prod(info.image_shape) * math.log(2))

    os.makedirs(output_dir, exist_ok=True)
    value_range = (0.0, 1.0)
    n = 100
    sample_labels = np.arange(n) // 10 % info.num_classes if conditional else None
    samples = model.sample(n, labels=sample_labels, seed=seed).numpy()
    images.save_png(os.path.join(output_dir, "samples.png"), samples, columns=10, value_range=value_range)
    originals = x_test[:50]
    recon = model.reconstruct(originals, None if y_test is None else y_test[:50]).numpy()
    pairs = np.stack([originals, recon], axis=1).reshape(-1, *info.image_shape)  # original, reconstruction, ...
    images.save_png(os.path.join(output_dir, "reconstructions.png"), pairs, columns=10, value_range=value_range)
    written = ["samples.png", "reconstructions.png"]
    if latent_dim == 2:
        grid = images.latent_manifold(model, size=20, labels=0 if conditional else None)
        images.save_png(os.path.join(output_dir, "manifold.png"), grid, columns=20, value_range=value_range)
        written.append("manifold.png")
    model_path = os.path.join(output_dir, "model.keras")
    model.save(model_path)
    written.append("model.keras")
    _write_json(os.path.join(output_dir, "results.json"), results)
    say(f"Wrote {', '.join(written)} and results.json to {output_dir}", flush=True)
    return results
