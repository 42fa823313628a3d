"""Benchmark of the VQ-VAE on MNIST at the keras.io example's settings.

    python benchmarks/bench_vqvae.py                                  # all configs, 10 and 30 epochs
    python benchmarks/bench_vqvae.py --configs small --epochs 2       # quick look

Settings shared with the keras.io VQ-VAE example: MNIST, a 7x7 code grid, 128
codes of size 16, batch 128, Adam 1e-3, squared error divided by the training
pixels' variance. Prints, per configuration and requested epoch: the training
normalised MSE (the epoch mean that `fit` reports, which is what keras.io
quotes: 0.0612 after 10 epochs, 0.0444 after 30), the test normalised MSE,
perplexity and codebook usage over the 10,000 test images, and the training
throughput in images/s (epochs after the first; run alone for a fair figure).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CONFIGS = {
    # About the keras.io example's size: two strided convs, no residual blocks.
    "small": dict(hidden_filters=64, residual_filters=32, num_residual_blocks=0, quantizer="vq"),
    # examples/train_vqvae.py's default.
    "small-res": dict(hidden_filters=64, residual_filters=32, num_residual_blocks=1, quantizer="vq"),
    # The paper's residual stack.
    "paper": dict(hidden_filters=128, residual_filters=32, num_residual_blocks=2, quantizer="vq"),
    "paper-ema": dict(hidden_filters=128, residual_filters=32, num_residual_blocks=2, quantizer="ema"),
}


def run(name, epochs_at, batch_size, seed):
    import keras

    import tfvae

    keras.utils.set_random_seed(seed)
    train = tfvae.data.load("mnist", "train", batch_size, seed=seed)
    x_test = tfvae.data.load_arrays("mnist", "test")
    variance = tfvae.data.pixel_variance("mnist")
    model = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, seed=seed,
                             data_variance=variance, **CONFIGS[name])
    model.compile(keras.optimizers.Adam(1e-3))
    rows, times = [], []
    for epoch in range(1, max(epochs_at) + 1):
        start = time.perf_counter()
        history = model.fit(train, epochs=1, verbose=0)
        times.append(time.perf_counter() - start)
        print(f"  {name} epoch {epoch}: {times[-1]:.1f} s, train nMSE {history.history['reconstruction'][-1]:.4f}",
              file=sys.stderr, flush=True)
        if epoch in epochs_at:
            test = model.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
            steady = times[1:] or times
            rows.append(dict(config=name, params=model.count_params(), epoch=epoch,
                             train_nmse=history.history["reconstruction"][-1], test_nmse=test["reconstruction"],
                             perplexity=test["perplexity"], usage=test["codebook_usage"],
                             throughput=60_000 * len(steady) / sum(steady)))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--epochs", nargs="+", type=int, default=[10, 30], help="epochs at which to report")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(f"bench_vqvae: MNIST, 7x7 grid, 128 codes x 16, batch {args.batch_size}, Adam 1e-3, {os.cpu_count()} CPUs")
    print("| config | params | epochs | train nMSE | test nMSE | test perplexity | test codebook usage | train images/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.configs:
        for r in run(name, sorted(set(args.epochs)), args.batch_size, args.seed):
            print(f"| {r['config']} | {r['params']:,} | {r['epoch']} | {r['train_nmse']:.4f} | {r['test_nmse']:.4f} | "
                  f"{r['perplexity']:.1f} | {r['usage']:.3f} | {r['throughput']:,.0f} |", flush=True)
    print("| keras.io example (anchor) | | 10 / 30 | 0.0612 / 0.0444 | | | | |")


if __name__ == "__main__":
    main()
