"""Peak resident memory of training runs and of `VAE.log_likelihood(k=1000)` on 1,000 test images.

    python benchmarks/bench_memory.py
    python benchmarks/bench_memory.py --parts log_likelihood

Every measurement runs in a fresh process. Linux keeps each process's peak
resident set size (VmHWM in /proc/self/status) and resets it to the current
size when "5" is written to /proc/self/clear_refs. A measurement resets it
right before the measured call and reads it right after, so the figure is the
peak during that call alone, not one left behind by imports or data loading;
"before" is the resident size just before the call, "peak" the highest during
it. A training run's peak is also given for the whole process (imports, data
and all), which is what a machine must have free to run it.

Parts:
  * training: one epoch of the MLP VAE on binarized MNIST (50,000 images,
    batch 100), one of the VQ-VAE of examples/train_vqvae.py on MNIST (60,000
    images, batch 128), and one of the prior of that example on random 7x7 codes
    (60,000 grids, batch 128), each fed by `tfvae.data.EpochData` as
    `tfvae.training` does.
  * log_likelihood: the MLP VAE's importance-weighted log-likelihood with
    k=1000 on the first 1,000 binarized-MNIST test images (batch_size 100),
    with the default chunking against one chunk of all 1,000 samples.
"""

import argparse
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

MIB = 1024.0


def _status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def _reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _measure(fn):
    """Runs fn(); returns (seconds, resident MiB before, peak resident MiB during)."""
    _reset_peak()
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return seconds, before / MIB, _status_kib("VmHWM") / MIB


def _training_child(kind, queue):
    import keras
    import numpy as np
    import tensorflow as tf

    import tfvae

    keras.utils.set_random_seed(0)
    if kind == "vae":
        data = tfvae.data.EpochData("binarized_mnist", "train", 100, 0)
        model = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=0)
        dataset = data(0)
    elif kind == "vqvae":
        data = tfvae.data.EpochData("mnist", "train", 128, 0)
        model = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, hidden_filters=64,
                                 residual_filters=32, num_residual_blocks=1, seed=0,
                                 data_variance=data.pixel_variance())
        dataset = data(0)
    else:
        codes = np.random.default_rng(0).integers(0, 128, (60_000, 7, 7)).astype("int32")
        model = tfvae.PixelCNNPrior((7, 7), 128, filters=64, num_layers=6)
        dataset = tf.data.Dataset.from_tensor_slices(codes).batch(128).prefetch(tf.data.AUTOTUNE)
    model.compile(keras.optimizers.Adam(1e-3))
    seconds, before, peak = _measure(lambda: model.fit(dataset, epochs=1, shuffle=False, verbose=0))
    queue.put(
        dict(kind=kind, seconds=seconds, before_mib=before, peak_mib=peak, lifetime_peak_mib=_lifetime_peak_mib())
    )


def _lifetime_peak_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB  # not reset by clear_refs


def _log_likelihood_child(chunk_size, queue):
    import numpy as np

    import tfvae

    x = tfvae.data.load_arrays("binarized_mnist", "test", limit=1000)
    vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=0)
    # One batch first, with the measured call's shapes, so that tracing is not measured.
    vae.log_likelihood(x[:100], num_samples=1000, batch_size=100, chunk_size=chunk_size, seed=0)
    result = {}

    def call():
        result["ll"] = vae.log_likelihood(x, num_samples=1000, batch_size=100, chunk_size=chunk_size, seed=0)

    seconds, before, peak = _measure(call)
    queue.put(dict(chunk=chunk_size or "auto", images=len(x), seconds=seconds, before_mib=before, peak_mib=peak,
                   lifetime_peak_mib=_lifetime_peak_mib(), finite=bool(np.all(np.isfinite(result["ll"])))))


def _in_fresh_process(target, *args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    try:
        return queue.get(timeout=1800)
    finally:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", default=["training", "log_likelihood"], choices=["training", "log_likelihood"])
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    _reset_peak()  # fails here, not in a child, where /proc/self/clear_refs is not writable

    results = {}
    print(f"bench_memory: resident memory in MiB, each row a fresh process; device {device_description()}")
    if "training" in args.parts:
        rows = [_in_fresh_process(_training_child, kind) for kind in ("vae", "vqvae", "prior")]
        print("\none training epoch (fit):")
        print("| model | resident before fit | peak during fit | growth | peak of the whole process | seconds |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['kind']} | {r['before_mib']:,.0f} | {r['peak_mib']:,.0f} | {r['peak_mib'] - r['before_mib']:,.0f} "
                f"| {r['lifetime_peak_mib']:,.0f} | {r['seconds']:.1f} |",
                flush=True,
            )
        results["training"] = rows
    if "log_likelihood" in args.parts:
        rows = [_in_fresh_process(_log_likelihood_child, chunk) for chunk in (None, 1000)]
        print("\nMLP VAE log_likelihood, k=1000, 1,000 test images, batch_size 100:")
        print("| samples per chunk | resident before | peak during the call | growth | seconds | finite |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['chunk']} | {r['before_mib']:,.0f} | {r['peak_mib']:,.0f} | {r['peak_mib'] - r['before_mib']:,.0f} "
                f"| {r['seconds']:.1f} | {r['finite']} |",
                flush=True,
            )
        growth = [max(r["peak_mib"] - r["before_mib"], 1e-9) for r in rows]
        print(f"growth with one chunk / with the default chunking: {growth[1] / growth[0]:.1f}x")
        results["log_likelihood"] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
