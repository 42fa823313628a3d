"""What a training run reports on the trained models: figures, image grids, results.json and export.

Training itself is `tfvae.training`; the command line puts the two together.
Every function here takes a trained model and test data and either returns
figures (a dict of floats, the keys of `results.json`) or writes files.
"""

import json
import math
import os

import numpy as np

from tfvae import generative, images
from tfvae._io import write_atomically
from tfvae.metrics import bits_per_dim

__all__ = [
    "autoencoder_figures",
    "autoencoder_images",
    "export_model",
    "prior_figures",
    "two_stage_figures",
    "vae_figures",
    "vae_images",
    "vqvae_figures",
    "vqvae_images",
    "write_results",
]


def vae_figures(trained, test_data, x_test, y_test=None, iw_samples=None, iw_examples=None, seed=0, say=print):
    """Test -ELBO and KL, the importance-weighted test NLL, and bits/dim where they are probabilities.

    Args:
        trained: `tfvae.training.Trained` of a `VAE`.
        test_data: the test dataset `fit` validated on.
        x_test, y_test: test images and labels (labels for conditional VAEs).
        iw_samples: int, 0 (skip), or None for `VAE.log_likelihood`'s default k.
        iw_examples: int or None. Test images for the NLL (None: all).
        seed: int. Seed of the importance samples.
    """
    model = trained.model
    test = trained.final(test_data)
    results = {"test_nelbo": test["loss"], "test_kl": test["kl"]}
    if trained.history:  # empty when a resumed run had nothing left to do
        results["train_nelbo"] = float(trained.history["loss"][-1])
    m = len(x_test) if iw_examples is None else min(int(iw_examples), len(x_test))
    if iw_samples != 0:
        args = {} if iw_samples is None else {"num_samples": int(iw_samples)}
        log_px = model.log_likelihood(x_test[:m], None if y_test is None else y_test[:m], seed=seed, **args)
        k = args.get("num_samples", _default(model.log_likelihood, "num_samples"))
        results.update(test_nll=float(-log_px.mean()), iw_samples=k, iw_examples=m)
        say(f"test NLL (importance-weighted, k={k}, {m} images): {results['test_nll']:.2f} nats", flush=True)
    # Bits per dimension only where the likelihood is a probability of these (discrete) images.
    try:
        results["test_nelbo_bits_per_dim"] = float(bits_per_dim(results["test_nelbo"], x_test, model.likelihood))
        if "test_nll" in results:
            results["test_nll_bits_per_dim"] = float(bits_per_dim(results["test_nll"], x_test[:m], model.likelihood))
    except ValueError as e:
        say(f"No bits/dim: {e}", flush=True)
    return results


def vae_images(model, x_test, y_test, output_dir, seed=0):
    """samples.png (one row per class for conditional VAEs), reconstructions.png, manifold.png (2-D latents)."""
    os.makedirs(output_dir, exist_ok=True)
    value_range = model.value_bounds
    n = 100
    labels = None if model.num_classes is None else np.arange(n) // 10 % model.num_classes
    samples = model.sample(n, labels=labels, seed=seed).numpy()
    images.save_png(os.path.join(output_dir, "samples.png"), samples, columns=10, value_range=value_range)
    _save_reconstructions(model, x_test[:50], output_dir, None if y_test is None else y_test[:50])
    written = ["samples.png", "reconstructions.png"]
    if model.latent_dim == 2:
        grid = images.latent_manifold(model, size=20, labels=None if model.num_classes is None else 0)
        images.save_png(os.path.join(output_dir, "manifold.png"), grid, columns=20, value_range=value_range)
        written.append("manifold.png")
    return written


def _test_and_train_figures(trained, test_data):
    """`test_<name>` (the final evaluation) and `train_<name>` (the last epoch) of every metric the model logs."""
    results = {f"test_{k}": v for k, v in trained.final(test_data).items()}
    results.update({f"train_{k}": float(v[-1]) for k, v in trained.history.items() if not k.startswith("val_")})
    return results


def _save_reconstructions(model, originals, output_dir, labels=None):
    """reconstructions.png: each image followed by its reconstruction, 10 to a row."""
    recon = (model.reconstruct(originals) if labels is None else model.reconstruct(originals, labels)).numpy()
    images.save_png(os.path.join(output_dir, "reconstructions.png"), images.interleave(originals, recon), columns=10,
                    value_range=model.value_bounds)


def autoencoder_figures(trained, test_data):
    """Test (and last training epoch's) figures of an `Autoencoder` or `AdversarialAutoencoder`.

    `loss` is the reconstruction distance per example; the adversarial one
    adds its discriminator and generator losses and the codes' MMD^2 to p(z).
    """
    return _test_and_train_figures(trained, test_data)


def autoencoder_images(model, x_test, output_dir, seed=0):
    """reconstructions.png (each test image beside its reconstruction); for a denoising model denoised.png
    (clean, corrupted as in training, reconstruction of the corrupted); for a model that samples samples.png."""
    os.makedirs(output_dir, exist_ok=True)
    value_range = model.value_bounds
    _save_reconstructions(model, x_test[:50], output_dir)
    written = ["reconstructions.png"]
    if model.noise_stddev:
        clean = x_test[:30]
        noise = np.random.default_rng(seed).normal(0.0, model.noise_stddev, clean.shape).astype(np.float32)
        noisy = np.clip(clean + noise, *value_range)
        denoised = model.reconstruct(noisy).numpy()
        images.save_png(os.path.join(output_dir, "denoised.png"), images.interleave(clean, noisy, denoised), columns=9,
                        value_range=value_range)
        written.append("denoised.png")
    if callable(getattr(model, "sample", None)):
        images.save_png(os.path.join(output_dir, "samples.png"), model.sample(100, seed=seed).numpy(), columns=10,
                        value_range=value_range)
        written.append("samples.png")
    return written


def vqvae_figures(trained, test_data):
    """Test and last-epoch training figures of a `VQVAE` (normalised MSE, perplexity, codebook usage, ...)."""
    return {"pixel_variance": trained.model.data_variance, **_test_and_train_figures(trained, test_data)}


def vqvae_images(model, x_test, output_dir):
    """reconstructions.png (each test image beside its reconstruction) and codes.png (beside its code grid)."""
    os.makedirs(output_dir, exist_ok=True)
    originals = x_test[:50]
    _save_reconstructions(model, originals, output_dir)
    image_shape = tuple(x_test.shape[1:])
    codes = model.encode(originals[:20]).numpy()
    code_rgb = images.code_images(codes, model.num_embeddings, image_shape[:2])
    canvas = np.ones((len(codes), *image_shape[:2], 3), np.float32)  # grids may be smaller than images
    canvas[:, : code_rgb.shape[1], : code_rgb.shape[2]] = code_rgb
    rgb = originals[:20] if image_shape[-1] == 3 else np.repeat(originals[:20], 3, axis=-1)
    images.save_png(os.path.join(output_dir, "codes.png"), images.interleave(rgb, canvas), columns=10)
    return ["reconstructions.png", "codes.png"]


def prior_figures(trained, test_data):
    """A `PixelCNNPrior`'s test (and last training epoch's) NLL in nats per code, and test bits per code."""
    codes_per_grid = math.prod(trained.model.grid_shape)
    test = trained.final(test_data)
    return {
        "prior_train_nats_per_code": (float(trained.history["loss"][-1]) / codes_per_grid
                                      if trained.history else None),
        "prior_test_nats_per_code": float(test["loss"]) / codes_per_grid,
        "prior_test_bits_per_code": float(test["bits_per_code"]),
    }


def two_stage_figures(vqvae, prior, x_test, y_test, train_images):
    """The VQ-VAE + prior model's test NLL bound (`generative.nll_bound`), in bits/dim and nats.

    The decoder's Gaussian scale comes from training data only: the root of
    the training MSE on `train_images`.
    """
    scale = generative.observation_scale(vqvae, train_images)
    bound = generative.nll_bound(vqvae, prior, x_test, y_test, observation_scale=scale)
    return {
        "observation_scale": scale,
        "test_nll_bound_bits_per_dim": float(bound["bits_per_dim"].mean()),
        "test_nll_bound_nats": float(bound["total_nats"].mean()),
        "test_reconstruction_nats": float(bound["reconstruction_nats"].mean()),
        "test_prior_nats": float(bound["prior_nats"].mean()),
    }


def export_model(model, output_dir, prior=None, say=print):
    """A TF Serving version folder in `output_dir` (TF Serving ignores the other files) and encode/decode .tflite."""
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


def write_results(output_dir, results):
    """results.json in `output_dir`, written atomically."""
    os.makedirs(output_dir, exist_ok=True)
    write_atomically(os.path.join(output_dir, "results.json"), json.dumps(results, indent=2))


def _default(function, name):
    import inspect

    return inspect.signature(function).parameters[name].default
