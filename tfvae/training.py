"""End-to-end training runs shared by `examples/` and the command line.

Each function takes plain arguments, trains, evaluates, writes its figures and
model into `output_dir`, prints progress, and returns the model and a dict of
the measured figures (also written as `results.json`).
"""

import json
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from tfvae import data, generative, images
from tfvae._io import write_atomically
from tfvae.metrics import bits_per_dim
from tfvae.models import VAE, VQVAE, ConditionalVAE, PixelCNNPrior

__all__ = [
    "EpochReport",
    "encode_splits",
    "fit_resumable",
    "train_prior",
    "train_split",
    "train_vae",
    "train_vqvae",
    "train_vqvae_with_prior",
]


class EpochReport(keras.callbacks.Callback):
    """Prints one line per epoch: the chosen metrics on training and test data.

    Args:
        total_epochs: int. For "epoch i/n".
        metrics: dict. Metric name -> label, e.g. {"loss": "-ELBO"}.
        unit: str. Appended to the line.
        printer: callable. Where lines go.
    """

    def __init__(self, total_epochs, metrics=None, unit=" nats", printer=print):
        super().__init__()
        self.total_epochs = total_epochs
        self.metrics_to_print = metrics or {"loss": "-ELBO"}
        self.unit = unit
        self.printer = printer

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        parts = []
        for prefix, split in (("", "train"), ("val_", "test")):
            shown = [f"{label} {logs[prefix + name]:.4g}" for name, label in self.metrics_to_print.items()
                     if prefix + name in logs]
            if shown:
                parts.append(f"{split} " + ", ".join(shown))
        self.printer(f"epoch {epoch + 1}/{self.total_epochs}: " + "; ".join(parts) + self.unit, flush=True)


def fit_resumable(build_model, train_data, epochs, seed, validation_data=None, callbacks=(),
                  checkpoint_dir=None, resume=False, verbose=0, say=print):
    """Trains epoch by epoch with per-epoch checkpoints; resumes from the last one.

    Args:
        build_model: callable () -> compiled model, used when not resuming.
        train_data: callable epoch -> dataset (e.g. `tfvae.data.EpochData`), so
            that epoch k's data depend on (seed, k) only.
        epochs: int. Total epochs.
        seed: int. Keras' global seed is set to f(seed, epoch) before each epoch.
        validation_data: dataset or None.
        callbacks: more Keras callbacks.
        checkpoint_dir: str or None. Write `tfvae.checkpoint` checkpoints here.
        resume: bool. Continue from `checkpoint_dir`'s last checkpoint if any.

    Returns:
        (model, history dict of per-epoch lists, first epoch trained in this call).
    """
    from tfvae import checkpoint
    from tfvae.callbacks import StopOnNonFinite

    model, start = None, 0
    if resume:
        if not checkpoint_dir:
            raise ValueError("resume=True needs a checkpoint_dir.")
        latest = checkpoint.latest_checkpoint(checkpoint_dir)
        if latest is not None:
            model, state = checkpoint.load_checkpoint(latest)
            if state.get("seed") != seed:
                raise ValueError(f"The checkpoint {latest} was made with seed {state.get('seed')}; "
                                 f"resume with that seed (received seed={seed}).")
            start = int(state["next_epoch"])
            say(f"Resuming from {latest}: epoch {start + 1} of {epochs}.", flush=True)
    if model is None:
        model = build_model()
    all_callbacks = [StopOnNonFinite(), *callbacks]
    if checkpoint_dir:
        all_callbacks.append(checkpoint.EpochCheckpoint(checkpoint_dir, {"seed": seed}))
    history = {}
    for epoch in range(start, epochs):
        keras.utils.set_random_seed(data.epoch_seed(seed, epoch))
        h = model.fit(train_data(epoch), validation_data=validation_data, initial_epoch=epoch, epochs=epoch + 1,
                      callbacks=all_callbacks, verbose=_keras_verbose(verbose))
        for k, v in h.history.items():
            history.setdefault(k, []).extend(v)
    return model, history, start


def _export(model, output_dir, say, prior=None):
    """SavedModel version folder in `output_dir` (TF Serving ignores the other files) plus encode/decode .tflite."""
    from tfvae import export

    version_dir = export.export_saved_model(model, output_dir, prior=prior)
    files = []
    for signature in ("encode", "decode"):
        path = os.path.join(output_dir, f"{signature}.tflite")
        export.export_tflite(model, path, signature=signature, prior=prior)
        files.append(path)
    say(f"Exported SavedModel {version_dir} (signatures: {', '.join(export.serving_functions(model, prior))}) "
        f"and {', '.join(os.path.basename(f) for f in files)}", flush=True)
    return {"saved_model": version_dir, "tflite": files}


def train_split(train_examples=None):
    """The training split, or its first `train_examples` examples, as a TFDS split string."""
    return "train" if train_examples is None else f"train[:{int(train_examples)}]"


def encode_splits(vqvae, dataset, split="train", with_labels=False):
    """Code grids of a data set's `split` and test split: ((codes, labels), (codes, labels)).

    Labels are None unless `with_labels`.
    """
    load = dict(with_labels=with_labels, shuffle=False, cache=False)
    out = []
    for part in (split, "test"):
        encoded = generative.encode_dataset(vqvae, data.load(dataset, part, 512, **load))
        out.append(encoded if with_labels else (encoded, None))
    return tuple(out)


def _final_test(model, history, test_ds):
    """The last epoch's validation figures; evaluated anew only when no epoch ran (a finished resume)."""
    if "val_loss" in history:
        return {k[len("val_"):]: float(v[-1]) for k, v in history.items() if k.startswith("val_")}
    return {k: float(v) for k, v in model.evaluate(test_ds, verbose=0, return_dict=True).items()}


def _keras_verbose(verbose):
    """0: quiet; 1: Keras' progress bar on a terminal only (logs stay clean); 2: always the bar."""
    if verbose >= 2:
        return 1
    return 1 if verbose == 1 and sys.stdout.isatty() else 0


def _write_json(path, payload):
    write_atomically(path, json.dumps(payload, indent=2))


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
    export=True,
    checkpoint_dir=None,
    resume=False,
    callbacks=(),
):
    """Trains a (conditional) Gaussian VAE and writes its model, figures and figures of merit.

    Args:
        dataset: str. A name of `tfvae.data.DATASETS`.
        architecture: str. "mlp" (the AEVB paper's) or "conv".
        latent_dim: int. Latent dimensions (2 also writes the latent manifold).
        hidden_units: tuple of int. MLP hidden layers (first entry for "conv").
        likelihood: str or None. None: "bernoulli" for binary data (or with
            `binarize`), else "discretized_gaussian" (8-bit grey levels; a
            Gaussian density on them would not be a likelihood of the data).
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
        export: bool. Also write a TF Serving version folder and
            encode/decode .tflite files into `output_dir`.
        checkpoint_dir, resume: per-epoch checkpoints and resuming (see `fit_resumable`).
        callbacks: more Keras callbacks (see `tfvae.callbacks`).

    Returns:
        (model, dict of the measured figures).
    """
    info = data.dataset_info(dataset)
    say = print if verbose else (lambda *a, **k: None)
    if likelihood is None:
        likelihood = "bernoulli" if (info.binary or binarize) else "discretized_gaussian"
    keras.utils.set_random_seed(seed)
    split = train_split(train_examples)
    train_data = data.EpochData(dataset, split, batch_size, seed, with_labels=conditional, binarize=binarize)
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
    if architecture not in ("mlp", "conv"):
        raise ValueError(f"`architecture` must be 'mlp' or 'conv'; received architecture={architecture!r}.")

    def build():
        if architecture == "mlp":
            model = cls.mlp(info.image_shape, latent_dim, hidden_units=hidden, **model_args)
        else:
            model = cls.conv(info.image_shape, latent_dim, hidden_units=hidden[0], **model_args)
        model.compile(keras.optimizers.Adam(learning_rate))
        say(f"Training a {type(model).__name__} ({architecture}, {likelihood}, latent {latent_dim}) "
            f"on {dataset} {split} for {epochs} epochs; {model.count_params():,} parameters.", flush=True)
        return model

    start = time.perf_counter()
    report = [EpochReport(epochs, printer=say)] if verbose else []
    model, history, _ = fit_resumable(build, train_data, epochs, seed, test_ds, [*report, *callbacks],
                                      checkpoint_dir, resume, verbose, say)
    train_seconds = time.perf_counter() - start
    results = {
        "dataset": dataset,
        "architecture": architecture,
        "latent_dim": latent_dim,
        "epochs": epochs,
        "train_seconds": round(train_seconds, 1),
    }
    test = _final_test(model, history, test_ds)
    results.update(test_nelbo=test["loss"], test_kl=test["kl"])
    if history:  # empty when a resumed run had nothing left to do
        results["train_nelbo"] = float(history["loss"][-1])
    if iw_samples:
        start = time.perf_counter()
        m = len(x_test) if iw_examples is None else int(iw_examples)
        log_px = model.log_likelihood(x_test[:m], None if y_test is None else y_test[:m],
                                      num_samples=iw_samples, seed=seed)
        results.update(test_nll=float(-log_px.mean()), iw_samples=iw_samples, iw_examples=m,
                       iw_seconds=round(time.perf_counter() - start, 1))
        say(f"test NLL (importance-weighted, k={iw_samples}, {m} images): "
            f"{results['test_nll']:.2f} nats", flush=True)
    # Bits per dimension only where the likelihood is a probability of these (discrete) images.
    try:
        results["test_nelbo_bits_per_dim"] = float(bits_per_dim(results["test_nelbo"], x_test, likelihood))
        if "test_nll" in results:
            results["test_nll_bits_per_dim"] = float(bits_per_dim(results["test_nll"], x_test[:m], likelihood))
    except ValueError as e:
        say(f"No bits/dim: {e}", flush=True)

    os.makedirs(output_dir, exist_ok=True)
    value_range = model.value_bounds
    n = 100
    sample_labels = np.arange(n) // 10 % info.num_classes if conditional else None
    samples = model.sample(n, labels=sample_labels, seed=seed).numpy()
    images.save_png(os.path.join(output_dir, "samples.png"), samples, columns=10, value_range=value_range)
    originals = x_test[:50]
    recon = model.reconstruct(originals, None if y_test is None else y_test[:50]).numpy()
    images.save_png(os.path.join(output_dir, "reconstructions.png"), images.interleave(originals, recon), columns=10,
                    value_range=value_range)
    written = ["samples.png", "reconstructions.png"]
    if latent_dim == 2:
        grid = images.latent_manifold(model, size=20, labels=0 if conditional else None)
        images.save_png(os.path.join(output_dir, "manifold.png"), grid, columns=20, value_range=value_range)
        written.append("manifold.png")
    model_path = os.path.join(output_dir, "model.keras")
    model.save(model_path)
    written.append("model.keras")
    if export:
        results.update(_export(model, output_dir, say))
    _write_json(os.path.join(output_dir, "results.json"), results)
    say(f"Wrote {', '.join(written)} and results.json to {output_dir}", flush=True)
    return model, results


def train_vqvae(
    dataset="mnist",
    quantizer="vq",
    num_embeddings=128,
    embedding_dim=16,
    hidden_filters=64,
    residual_filters=32,
    num_downsamplings=2,
    num_residual_blocks=1,
    commitment_cost=0.25,
    decay=0.99,
    dead_code_steps=None,
    epochs=5,
    batch_size=128,
    learning_rate=1e-3,
    train_examples=None,
    output_dir="saved_models/vqvae",
    seed=0,
    verbose=1,
    checkpoint_dir=None,
    resume=False,
    callbacks=(),
):
    """Trains a VQ-VAE, evaluates it on the test split and writes model and figures.

    Reconstruction is the squared error divided by the training pixels' variance.
    Writes model.keras, reconstructions.png (each test image beside its
    reconstruction), codes.png (each test image beside its code grid, one
    colour per code) and results.json into `output_dir`. `checkpoint_dir`,
    `resume` and `callbacks` as in `train_vae`.

    Returns:
        (model, dict of measured figures).
    """
    info = data.dataset_info(dataset)
    say = print if verbose else (lambda *a, **k: None)
    keras.utils.set_random_seed(seed)
    split = train_split(train_examples)
    train_data = data.EpochData(dataset, split, batch_size, seed)
    x_test = data.load_arrays(dataset, "test")
    variance = train_data.pixel_variance()

    def build():
        model = VQVAE.conv(
            info.image_shape, num_embeddings=num_embeddings, embedding_dim=embedding_dim,
            hidden_filters=hidden_filters, residual_filters=residual_filters, num_downsamplings=num_downsamplings,
            num_residual_blocks=num_residual_blocks, quantizer=quantizer, commitment_cost=commitment_cost,
            decay=decay, dead_code_steps=dead_code_steps, seed=seed, data_variance=variance,
        )
        model.compile(keras.optimizers.Adam(learning_rate))
        say(f"Training a VQ-VAE ({quantizer}, {num_embeddings} codes of size {embedding_dim}, grid "
            f"{model.grid_shape[0]}x{model.grid_shape[1]}) on {dataset} {split} for {epochs} epochs; "
            f"{model.count_params():,} parameters; pixel variance {variance:.5f}.", flush=True)
        return model

    test_ds = tf.data.Dataset.from_tensor_slices(x_test).batch(500)
    report = EpochReport(epochs, {"reconstruction": "normalised MSE", "perplexity": "perplexity",
                                  "codebook_usage": "usage"}, unit="", printer=say)
    start = time.perf_counter()
    model, history, _ = fit_resumable(build, train_data, epochs, seed, test_ds,
                                      [*([report] if verbose else []), *callbacks], checkpoint_dir, resume,
                                      verbose, say)
    results = {
        "dataset": dataset,
        "quantizer": quantizer,
        "epochs": epochs,
        "train_seconds": round(time.perf_counter() - start, 1),
        "pixel_variance": variance,
    }
    results.update({f"test_{k}": v for k, v in _final_test(model, history, test_ds).items()})
    results.update({f"train_{k}": float(v[-1]) for k, v in history.items() if not k.startswith("val_")})
    os.makedirs(output_dir, exist_ok=True)
    originals = x_test[:50]
    recon = model.reconstruct(originals).numpy()
    images.save_png(os.path.join(output_dir, "reconstructions.png"), images.interleave(originals, recon), columns=10,
                    value_range=model.value_bounds)
    codes = model.encode(originals[:20]).numpy()
    code_rgb = images.code_images(codes, num_embeddings, info.image_shape[:2])
    canvas = np.ones((20, *info.image_shape[:2], 3), np.float32)  # grids may be smaller than images
    canvas[:, : code_rgb.shape[1], : code_rgb.shape[2]] = code_rgb
    rgb = originals[:20] if info.image_shape[-1] == 3 else np.repeat(originals[:20], 3, axis=-1)
    images.save_png(os.path.join(output_dir, "codes.png"), images.interleave(rgb, canvas), columns=10)
    model.save(os.path.join(output_dir, "model.keras"))
    _write_json(os.path.join(output_dir, "results.json"), results)
    say(f"test: normalised MSE {results['test_reconstruction']:.4f}, perplexity {results['test_perplexity']:.1f}, "
        f"codebook usage {results['test_codebook_usage']:.3f}", flush=True)
    say(f"Wrote model.keras, reconstructions.png, codes.png and results.json to {output_dir}", flush=True)
    return model, results


def train_prior(
    vqvae,
    train_codes,
    test_codes,
    train_labels=None,
    test_labels=None,
    num_classes=None,
    filters=64,
    num_layers=6,
    kernel_size=3,
    epochs=5,
    batch_size=128,
    learning_rate=1e-3,
    seed=0,
    verbose=1,
    checkpoint_dir=None,
    resume=False,
    callbacks=(),
):
    """Fits a `PixelCNNPrior` to a VQ-VAE's code grids; returns (prior, results).

    `checkpoint_dir`, `resume` and `callbacks` as in `train_vae`.
    """
    say = print if verbose else (lambda *a, **k: None)
    keras.utils.set_random_seed(seed)
    conditional = num_classes is not None

    def build():
        prior = PixelCNNPrior(vqvae.grid_shape, vqvae.num_embeddings, filters=filters, num_layers=num_layers,
                              kernel_size=kernel_size, num_classes=num_classes)
        prior.compile(keras.optimizers.Adam(learning_rate))
        say(f"Training a PixelCNN prior ({num_layers} gated blocks of {filters} filters"
            f"{', conditional' if conditional else ''}) on {len(train_codes):,} code grids for {epochs} epochs; "
            f"{prior.count_params():,} parameters.", flush=True)
        return prior

    def epoch_data(epoch):
        ds = tf.data.Dataset.from_tensor_slices((train_codes, train_labels) if conditional else train_codes)
        ds = ds.shuffle(len(train_codes), seed=data.epoch_seed(seed, epoch), reshuffle_each_iteration=False)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    test_ds = tf.data.Dataset.from_tensor_slices((test_codes, test_labels) if conditional else test_codes)
    test_ds = test_ds.batch(batch_size)
    report = EpochReport(epochs, {"loss": "nats/grid", "bits_per_code": "bits/code"}, unit="", printer=say)
    start = time.perf_counter()
    prior, history, _ = fit_resumable(build, epoch_data, epochs, seed, test_ds,
                                      [*([report] if verbose else []), *callbacks], checkpoint_dir, resume,
                                      verbose, say)
    test = _final_test(prior, history, test_ds)
    codes_per_grid = math.prod(vqvae.grid_shape)
    results = {
        "prior_epochs": epochs,
        "prior_train_seconds": round(time.perf_counter() - start, 1),
        "prior_train_nats_per_code": float(history["loss"][-1]) / codes_per_grid if history else None,
        "prior_test_nats_per_code": float(test["loss"]) / codes_per_grid,
        "prior_test_bits_per_code": float(test["bits_per_code"]),
    }
    return prior, results


def train_vqvae_with_prior(
    dataset="mnist",
    conditional=False,
    vqvae_args=None,
    prior_args=None,
    num_samples=100,
    temperature=1.0,
    output_dir="saved_models/vqvae",
    seed=0,
    verbose=1,
    export=True,
    checkpoint_dir=None,
    resume=False,
):
    """The whole job: VQ-VAE, codes, prior, new images.

    Trains the VQ-VAE (`train_vqvae` with `vqvae_args`), encodes the training
    and test sets, fits the prior (`train_prior` with `prior_args`), and reports
    test reconstruction error, prior NLL (nats and bits per code) and the
    two-stage model's NLL bound in bits per dimension (`generative.nll_bound`
    with a discretised Gaussian whose scale is the root of the training MSE).
    Writes, besides the VQ-VAE's files, prior.keras, samples.png (one row per
    class when conditional) and an extended results.json; with `export`, also
    a TF Serving version folder (with `sample` signatures) and encode/decode
    .tflite files.

    Returns:
        (vqvae, prior, results).
    """
    say = print if verbose else (lambda *a, **k: None)
    info = data.dataset_info(dataset)
    if conditional and not info.num_classes:
        raise ValueError(f"{dataset!r} has no labels; received conditional=True.")
    vqvae_args = dict(vqvae_args or {})
    prior_args = dict(prior_args or {})
    sub = (lambda name: None) if checkpoint_dir is None else (lambda name: os.path.join(checkpoint_dir, name))
    vqvae, results = train_vqvae(dataset=dataset, output_dir=output_dir, seed=seed, verbose=verbose,
                                 checkpoint_dir=sub("vqvae"), resume=resume, **vqvae_args)

    start = time.perf_counter()
    split = train_split(vqvae_args.get("train_examples"))
    (train_codes, train_labels), (test_codes, test_labels) = encode_splits(vqvae, dataset, split, conditional)
    say(f"Encoded {len(train_codes):,} training and {len(test_codes):,} test images into "
        f"{vqvae.grid_shape[0]}x{vqvae.grid_shape[1]} code grids in {time.perf_counter() - start:.1f} s.", flush=True)

    prior, prior_results = train_prior(
        vqvae, train_codes, test_codes, train_labels, test_labels,
        num_classes=info.num_classes if conditional else None, seed=seed, verbose=verbose,
        checkpoint_dir=sub("prior"), resume=resume, **prior_args,
    )
    results.update(prior_results)

    x_test = data.load_arrays(dataset, "test", with_labels=conditional)
    x_test, y_test = x_test if conditional else (x_test, None)
    # The decoder's Gaussian scale comes from training data only: the root of the training MSE.
    scale = generative.observation_scale(vqvae, data.load_arrays(dataset, split, limit=10_000))
    bound = generative.nll_bound(vqvae, prior, x_test, y_test, observation_scale=scale)
    results.update(
        observation_scale=scale,
        test_nll_bound_bits_per_dim=float(bound["bits_per_dim"].mean()),
        test_nll_bound_nats=float(bound["total_nats"].mean()),
        test_reconstruction_nats=float(bound["reconstruction_nats"].mean()),
        test_prior_nats=float(bound["prior_nats"].mean()),
    )
    labels = None
    if conditional:
        labels = np.arange(num_samples) // max(1, num_samples // info.num_classes) % info.num_classes
    start = time.perf_counter()
    samples, _ = generative.sample_images(vqvae, prior, num_samples, seed=seed, temperature=temperature, labels=labels)
    results["sample_seconds"] = round(time.perf_counter() - start, 2)
    images.save_png(os.path.join(output_dir, "samples.png"), samples.numpy(), columns=10,
                    value_range=vqvae.value_bounds)
    prior.save(os.path.join(output_dir, "prior.keras"))
    if export:
        results.update(_export(vqvae, output_dir, say, prior=prior))
    _write_json(os.path.join(output_dir, "results.json"), results)
    say(f"prior: test {results['prior_test_nats_per_code']:.4f} nats/code "
        f"({results['prior_test_bits_per_code']:.4f} bits/code)", flush=True)
    say(f"two-stage model: test NLL bound {results['test_nll_bound_bits_per_dim']:.4f} bits/dim "
        f"(reconstruction {results['test_reconstruction_nats']:.1f} + prior {results['test_prior_nats']:.1f} nats per image)",
        flush=True)
    say(f"Wrote samples.png ({num_samples} new images) and prior.keras to {output_dir}", flush=True)
    return vqvae, prior, results
