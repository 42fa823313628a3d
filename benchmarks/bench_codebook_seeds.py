"""Codebook usage of the main job's VQ-VAE for several random seeds.

    python benchmarks/bench_codebook_seeds.py --seeds 0 1 2 3 --epochs 1

Builds the VQ-VAE of `examples/train_vqvae.py`, with the constants it reads
from that script (today the paper's convolutional networks with 64 filters and
one residual block, 128 codes of size 16, commitment cost 0.25, Adam 1e-3,
batches of 128 of MNIST, squared error over the pixel variance) after
`keras.utils.set_random_seed(seed)`, trains it for `--epochs` epochs and
prints, per seed, the share of the codes in use and the perplexity, on the
last training epoch and on the 10,000 test images.
The seed decides every initialiser's draw and the data order, so the spread
over seeds says how much of a single run's usage is luck.
"""

import argparse
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from common import device_description  # noqa: E402


def _main_job():
    """examples/train_vqvae.py as a module: its constants are the networks and training measured here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_vqvae", os.path.join(ROOT, "examples", "train_vqvae.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args(argv)

    import keras
    import numpy as np

    import tfvae

    job = _main_job()
    x_train = tfvae.data.load_arrays("mnist", "train")
    x_test = tfvae.data.load_arrays("mnist", "test")
    variance = float(np.var(x_train, dtype=np.float64))
    print(f"# MNIST, the main job's VQ-VAE, {a.epochs} epoch(s) per seed, on {device_description()}")
    print("| seed | training usage | training perplexity | test usage | test perplexity |")
    print("|---|---|---|---|---|")
    for seed in a.seeds:
        keras.utils.set_random_seed(seed)
        train = tfvae.data.load("mnist", "train", job.BATCH_SIZE, seed=seed)
        vqvae = tfvae.VQVAE.conv(x_train.shape[1:], num_embeddings=job.NUM_EMBEDDINGS, embedding_dim=job.EMBEDDING_DIM,
                                 hidden_filters=job.HIDDEN_FILTERS, num_residual_blocks=job.RESIDUAL_BLOCKS,
                                 commitment_cost=job.COMMITMENT_COST, data_variance=variance, seed=seed)
        vqvae.compile(keras.optimizers.Adam(job.LEARNING_RATE))
        history = vqvae.fit(train, epochs=a.epochs, validation_data=(x_test,), shuffle=False, verbose=0).history
        last = {name: values[-1] for name, values in history.items()}
        print(f"| {seed} | {last['codebook_usage']:.3f} | {last['perplexity']:.1f} | "
              f"{last['val_codebook_usage']:.3f} | {last['val_perplexity']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
