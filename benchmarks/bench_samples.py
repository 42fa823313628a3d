"""Sample quality of every generative model of tfvae, with the floor and broken samplers for scale.

    python benchmarks/bench_samples.py                                  # mnist and fashion_mnist, n = 10,000
    python benchmarks/bench_samples.py --datasets mnist --n 2000 --epoch-scale 0.2   # a quick look

For each data set: the feature extractor tfvae trains on it
(`tfvae.evaluation.train_feature_extractor`, 5 epochs, cached), then the
Fréchet distance, KID, precision/recall and density/coverage (and the class
accuracy of conditional samples) of

- the test set against the training set (the floor: what real images score),
- two broken samplers (uniform noise; one training image repeated),
- every generative model trained by `tfvae train` for the epochs of the
  examples (VAE 10, conditional VAE 5, adversarial autoencoders 20, VQ-VAE 4 +
  PixelCNN prior 3; scaled by --epoch-scale), and the reconstructions of
  each autoencoder (plain autoencoder 10 epochs).

Every row is n generated images against the first n test images. Prints a
Markdown table per data set with the extractor's description and each row's
training time on this machine.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

# (row name, output folder, `tfvae train` arguments, epochs of the examples, what is evaluated)
MODELS = [
    ("VAE (MLP, discretised Gaussian)", "vae", ["vae", "--iw-samples", "0"], 10, "samples"),
    ("conditional VAE (MLP)", "cvae", ["cvae", "--iw-samples", "0"], 5, "samples"),
    ("adversarial autoencoder (MLP)", "aae", ["aae"], 20, "samples"),
    ("class-conditional AAE (MLP)", "caae", ["aae", "--conditional"], 20, "samples"),
    ("VQ-VAE + gated PixelCNN prior", "vqvae", ["vqvae", "--prior-epochs", "{prior_epochs}"], 4, "samples"),
    ("autoencoder (MLP)", "ae", ["ae"], 10, "reconstructions"),
]
PRIOR_EPOCHS = 3
COLUMNS = ("frechet_distance", "kernel_distance", "precision", "recall", "density", "coverage", "class_accuracy")


def _train(kind_args, epochs, dataset, out, epoch_scale, seed):
    """Runs `tfvae train` in a fresh process; returns its wall time in seconds."""
    args = [a.format(prior_epochs=max(1, round(PRIOR_EPOCHS * epoch_scale))) for a in kind_args]
    command = [sys.executable, "-m", "tfvae.cli", "train", *args, "--dataset", dataset, "--epochs",
               str(max(1, round(epochs * epoch_scale))), "--output-dir", out, "--no-export", "--verbose", "0",
               "--seed", str(seed)]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def _row(name, figures, seconds=None):
    cells = [f"{figures[c]:.4g}" if c in figures else "" for c in COLUMNS]
    return f"| {name} | " + " | ".join(cells) + f" | {'' if seconds is None else f'{seconds:.0f} s'} |"


def run(dataset, n, epoch_scale, output_dir, seed):
    import numpy as np

    import tfvae
    from tfvae import evaluation
    from tfvae.checkpoint import load_model

    start = time.perf_counter()
    extractor = evaluation.train_feature_extractor(dataset)
    print(f"\n### {dataset}: n = {n:,} generated images against the first {n:,} test images\n")
    print(f"Extractor: {extractor.description} ({time.perf_counter() - start:.0f} s, or 0 from the cache).\n")
    print("| samples | FD | KID | precision | recall | density | coverage | class accuracy | training |")
    print("|---|---|---|---|---|---|---|---|---|")
    test, test_labels = tfvae.data.load_arrays(dataset, "test", limit=n, with_labels=True)
    train = tfvae.data.load_arrays(dataset, "train", limit=n)
    print(_row("training set (the floor)", evaluation.evaluate_samples(lambda m, s: train, test, extractor, n=n,
                                                                          batch_size=n)), flush=True)
    broken = {
        "uniform noise (broken)": lambda m, s: np.random.default_rng(s).random((m, *train.shape[1:])).astype("float32"),
        "one image repeated (broken)": lambda m, s: np.repeat(train[:1], m, axis=0),
    }
    for name, sampler in broken.items():
        print(_row(name, evaluation.evaluate_samples(sampler, test, extractor, n=n)), flush=True)
    for name, folder, kind_args, epochs, what in MODELS:
        out = os.path.join(output_dir, dataset, folder)
        seconds = _train(kind_args, epochs, dataset, out, epoch_scale, seed)
        model = load_model(os.path.join(out, "model.keras"))
        if what == "samples":
            source = model
            if kind_args[0] == "vqvae":
                source = (model, load_model(os.path.join(out, "prior.keras")))
            figures = evaluation.evaluate_samples(source, test, extractor, n=n, value_range=model.value_range)
            print(_row(name, figures, seconds), flush=True)
        figures = evaluation.evaluate_reconstructions(model, test, extractor, labels=test_labels, n=n)
        print(_row(f"{name}: reconstructions", figures, None if what == "samples" else seconds), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    p.add_argument("--n", type=int, default=10_000, help="generated and reference images per row")
    p.add_argument("--epoch-scale", type=float, default=1.0, help="multiplies every model's epochs")
    p.add_argument("--output-dir", default="/tmp/tfvae_bench_samples", help="where the trained models go")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    import keras
    import tensorflow as tf

    print(f"bench_samples on {device_description()}, TensorFlow {tf.__version__}, Keras {keras.__version__}; "
          f"command: python benchmarks/bench_samples.py {' '.join(sys.argv[1:])}")
    for dataset in a.datasets:
        run(dataset, a.n, a.epoch_scale, a.output_dir, a.seed)


if __name__ == "__main__":
    main()
