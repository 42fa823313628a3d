"""Benchmark of the Gaussian VAE on binarized MNIST.

    python benchmarks/bench_vae.py                      # MLP and conv, 10 epochs each
    python benchmarks/bench_vae.py --models mlp --epochs 3 --iw-examples 1000

Prints, per architecture: training throughput (images/s, epochs after the first),
the test -ELBO after the stated number of training images seen, and the
importance-weighted test NLL with the stated k. Memory is measured by
`benchmarks/bench_memory.py`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402


def _train_and_measure(architecture, epochs, batch_size, iw_samples, iw_examples, seed):
    import keras

    import tfvae

    keras.utils.set_random_seed(seed)
    train = tfvae.data.load("binarized_mnist", "train", batch_size, seed=seed)
    x_test = tfvae.data.load_arrays("binarized_mnist", "test")
    if architecture == "mlp":
        vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=seed)
    else:
        vae = tfvae.VAE.conv((28, 28, 1), latent_dim=20, filters=(32, 64), hidden_units=256, seed=seed)
    vae.compile(keras.optimizers.Adam(1e-3))
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        vae.fit(train, epochs=1, shuffle=False, verbose=0)
        times.append(time.perf_counter() - start)
        print(f"  {architecture} epoch {epoch + 1}/{epochs}: {times[-1]:.1f} s", file=sys.stderr, flush=True)
    steady = times[1:] or times
    throughput = 50_000 * len(steady) / sum(steady)
    nelbo = vae.evaluate(x_test, batch_size=1000, verbose=0, return_dict=True)["loss"]
    start = time.perf_counter()
    nll = float(-vae.log_likelihood(x_test[:iw_examples], num_samples=iw_samples, seed=seed).mean())
    iw_seconds = time.perf_counter() - start
    return dict(architecture=architecture, params=vae.count_params(), epochs=epochs,
                images_seen=50_000 * epochs, throughput=throughput, test_nelbo=nelbo,
                test_nll=nll, iw_samples=iw_samples, iw_examples=min(iw_examples, len(x_test)),
                iw_seconds=iw_seconds)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["mlp", "conv"], choices=["mlp", "conv"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--iw-samples", type=int, default=1000)
    p.add_argument("--iw-examples", type=int, default=2_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    print(
        f"bench_vae: binarized_mnist, batch {args.batch_size}, Adam 1e-3, latent 20, device {device_description()}",
        flush=True,
    )
    print(
        "| model | params | images seen | train images/s | test -ELBO (nats) | test NLL (nats) | k | test images | NLL time (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for architecture in args.models:
        r = _train_and_measure(architecture, args.epochs, args.batch_size, args.iw_samples, args.iw_examples, args.seed)
        print(f"| {r['architecture']} | {r['params']:,} | {r['images_seen']:,} ({r['epochs']} epochs) | "
              f"{r['throughput']:,.0f} | {r['test_nelbo']:.2f} | {r['test_nll']:.2f} | {r['iw_samples']} | "
              f"{r['iw_examples']:,} | {r['iw_seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
