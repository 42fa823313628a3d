"""PixelCNN prior: sampling speed against the naive loop and the compute floor; prior quality.

    python benchmarks/bench_prior.py                 # sampling speed (a few minutes)
    python benchmarks/bench_prior.py --quality       # also: train a VQ-VAE and a prior on MNIST, test NLL

Sampling speed, for two priors with seeded random weights (speed does not
depend on what the weights are): the default `PixelCNNPrior((7, 7), 64)` (8
gated blocks of 64 filters, the issue's setting) and the same network on
16x16 grids, where caching matters most. For batches of 16 and 256 grids:

* first call: a fresh prior's first `sample(n)` (jit_compile="auto": the graph
  sampler while XLA compiles in a background thread), its first call with
  `jit_compile=True` (XLA compilation included), and the naive loop's first call;
* warm (median of --repeats after a warm-up): `sample` with XLA, without XLA,
  and the naive loop (`sample_naive`: one compiled full forward pass per position);
* the floor: one compiled full forward pass over the n grids, timed the same
  way, and its multiply-adds counted from the layers. Ancestral sampling must
  compute every position of every stack once, about one full pass, so "warm /
  one pass" says how far a sampler is from the floor;
* a new batch size (n + 1, in the same bucket) after the warm calls: no new
  compilation (the XLA sampler's trace count is printed).

Then the exported `sample` signature of a SavedModel (a `VQVAE` with the default
prior): first call and warm, loaded with `tf.saved_model.load`. Every sampler
is checked to give the naive loop's grids for the seed.
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _median_seconds(fn, repeats):
    fn()  # warm-up: tracing and first-call costs are not this figure
    return statistics.median(_seconds(fn) for _ in range(repeats))


def _wait_for_background_compilations():
    for thread in threading.enumerate():
        if thread.name.startswith("tfvae-xla-sampler"):
            thread.join()


def _multiply_adds_per_position(prior):
    """Multiply-adds of one full forward pass per grid position, with the causal (cropped) kernels."""
    import numpy as np

    total = 0
    for block in prior.blocks:
        for conv in (block.v_conv, block.h_conv):
            total += int(np.prod(conv.causal_kernel().shape))
        for conv in (block.v_to_h, block.h_out, block.skip):
            total += int(np.prod(conv.kernel.shape))
    total += int(np.prod(prior.head_hidden.kernel.shape)) + int(np.prod(prior.head_logits.kernel.shape))
    return total


def sampling(grid, repeats, seed, sizes):
    import keras
    import numpy as np
    import tensorflow as tf

    import tfvae

    def fresh():
        keras.utils.set_random_seed(seed)
        return tfvae.PixelCNNPrior(grid, 64)

    rows = []
    positions = grid[0] * grid[1]
    for n in sizes:
        codes = np.zeros((n, *grid), np.int32)
        # First calls, each on a fresh prior (fresh compiled functions); TensorFlow itself is warm.
        prior = fresh()
        prior(codes)
        first_auto = _seconds(lambda: prior.sample(n, seed=seed))
        _wait_for_background_compilations()
        first_xla = _seconds(lambda: fresh().sample(n, seed=seed, jit_compile=True))
        naive_prior = fresh()
        naive_prior(codes)
        start = time.perf_counter()
        reference = naive_prior.sample_naive(n, seed=seed).numpy()
        naive_first = time.perf_counter() - start
        # Warm.
        xla = _median_seconds(lambda: prior.sample(n, seed=seed, jit_compile=True), repeats)
        plain = _median_seconds(lambda: prior.sample(n, seed=seed, jit_compile=False), repeats)
        auto = _median_seconds(lambda: prior.sample(n, seed=seed), repeats)
        # The naive loop costs about `positions` full passes; where that is minutes, its
        # first call (whose tracing is then a small part of it) is its only figure.
        big = n * positions > 16 * 16 * 16
        naive = naive_first if big else _median_seconds(lambda: naive_prior.sample_naive(n, seed=seed), repeats)
        full_pass_fn = tf.function(lambda c: prior(c), reduce_retracing=True)
        full_pass = _median_seconds(lambda: full_pass_fn(tf.constant(codes)), repeats)
        traces = prior._sampler.xla.experimental_get_tracing_count()
        later = _seconds(lambda: prior.sample(n + 1, seed=seed))
        recompiled = prior._sampler.xla.experimental_get_tracing_count() != traces
        _wait_for_background_compilations()
        same = all(np.array_equal(reference, prior.sample(n, seed=seed, jit_compile=jit).numpy())
                   for jit in (True, False, "auto"))
        rows.append(dict(grid=grid, n=n, first_auto=first_auto, first_xla=first_xla, naive_first=naive_first,
                         xla=xla, plain=plain, auto=auto, naive=naive,
                         full_pass=full_pass, later=later, recompiled=recompiled, same=same,
                         flops=2 * _multiply_adds_per_position(prior) * positions * n))
        print(f"  {grid[0]}x{grid[1]}, {n} grids done", file=sys.stderr, flush=True)
    return rows


def exported(repeats, seed):
    import keras
    import numpy as np
    import tensorflow as tf

    import tfvae

    keras.utils.set_random_seed(seed)
    vqvae = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=64, embedding_dim=16, seed=seed)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 64)
    with tempfile.TemporaryDirectory() as tmp:
        path = tfvae.export.export_saved_model(vqvae, tmp, prior=prior)
        loaded = tf.saved_model.load(path)
        sample = loaded.signatures["sample"]
        seeds = tf.constant(np.arange(16), tf.int64)
        first = _seconds(lambda: sample(seed=seeds))
        warm = _median_seconds(lambda: sample(seed=seeds), repeats)
        other = _seconds(lambda: sample(seed=tf.constant(np.arange(17), tf.int64)))
    return dict(first=first, warm=warm, other=other)


def quality(args):
    import numpy as np
    import tensorflow as tf

    from tfvae import data, training
    from tfvae.cli import reporting

    # The main job's VQ-VAE (examples/train_vqvae.py), trained quietly.
    config = training.FitConfig(epochs=args.vqvae_epochs, seed=args.seed, verbose=0)
    test_images = tf.data.Dataset.from_tensor_slices(data.load_arrays("mnist", "test")).batch(500)
    vq = training.train_vqvae("mnist", dict(hidden_filters=64, num_residual_blocks=1), config, test_images)
    vqvae, vq_results = vq.model, reporting.vqvae_figures(vq, test_images)
    (train_codes, _), (test_codes, _) = training.encode_splits(vqvae, "mnist")
    test_ds = tf.data.Dataset.from_tensor_slices(test_codes).batch(128)
    trained = training.train_prior(vqvae, train_codes, dict(filters=64, num_layers=6),
                                   training.FitConfig(epochs=args.prior_epochs, seed=args.seed, verbose=0),
                                   validation_data=test_ds)
    results = reporting.prior_figures(trained, test_ds)
    counts = np.bincount(train_codes.reshape(-1), minlength=vqvae.num_embeddings) + 1.0  # add-one smoothing
    unigram = float(-np.log(counts / counts.sum())[test_codes.reshape(-1)].mean())
    print(f"\nquality: MNIST, VQ-VAE {args.vqvae_epochs} epochs (test nMSE {vq_results['test_reconstruction']:.4f}, "
          f"usage {vq_results['test_codebook_usage']:.3f}, perplexity {vq_results['test_perplexity']:.1f}); prior 6 "
          f"gated blocks x 64 filters, {args.prior_epochs} epochs, {trained.model.count_params():,} parameters, "
          f"{trained.seconds:.0f} s")
    print(f"prior test NLL: {results['prior_test_nats_per_code']:.4f} nats per code "
          f"({results['prior_test_bits_per_code']:.4f} bits); train {results['prior_train_nats_per_code']:.4f}")
    print(f"baseline on the same test codes, independent codes with training frequencies: {unigram:.4f} nats per code")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sizes", type=int, nargs="+", default=[16, 256])
    p.add_argument("--quality", action="store_true", help="also train a VQ-VAE and a prior and report test NLL")
    p.add_argument("--vqvae-epochs", type=int, default=4)
    p.add_argument("--prior-epochs", type=int, default=5)
    args = p.parse_args(argv)

    import tfvae

    device = device_description()
    print(f"bench_prior: sampling from PixelCNNPrior(grid, 64) (8 gated blocks x 64 filters, kernel 3), seeded "
          f"random weights; device {device}")
    # TensorFlow's own first-use costs are not any sampler's.
    warm = tfvae.PixelCNNPrior((2, 2), 4, num_layers=1)
    warm.sample_naive(1, seed=0)
    warm.sample(1, seed=0, jit_compile=True)

    rows = sampling((7, 7), args.repeats, args.seed, args.sizes)
    rows += sampling((16, 16), args.repeats, args.seed, args.sizes)
    print(
        f"\nwarm: median of {args.repeats} calls after a warm-up (the naive loop on 256 grids of 16x16: one first call); "
        "seconds per batch:"
    )
    print("| grid | grids | XLA (`jit_compile=True`) | graph (`False`) | \"auto\" | naive loop | naive / XLA "
          "| one full pass | XLA / one pass | GFLOP of one pass |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['grid'][0]}x{r['grid'][1]} | {r['n']} | {r['xla']:.4f} | {r['plain']:.4f} | {r['auto']:.4f} "
              f"| {r['naive']:.3f} | **{r['naive'] / r['xla']:.1f}x** | {r['full_pass']:.4f} "
              f"| {r['xla'] / r['full_pass']:.1f} | {r['flops'] / 1e9:.3f} |")
    print("\nfirst calls (fresh priors, TensorFlow warm), seconds; then a new batch size n + 1:")
    print("| grid | grids | first `sample` (auto) | first with `jit_compile=True` | naive loop, first call "
          "| naive loop, warm | n + 1 grids after warm calls | XLA retraced for n + 1 | grids equal the naive loop's |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['grid'][0]}x{r['grid'][1]} | {r['n']} | **{r['first_auto']:.3f}** | {r['first_xla']:.3f} "
              f"| {r['naive_first']:.3f} | {r['naive']:.3f} | {r['later']:.4f} | {r['recompiled']} | {r['same']} |")
    e = exported(args.repeats, args.seed)
    print(f"\nexported SavedModel, `sample` signature of a VQVAE with the default prior, 16 seeds: first call "
          f"{e['first']:.3f} s, warm {e['warm']:.4f} s, then 17 seeds {e['other']:.4f} s")
    if args.quality:
        quality(args)


if __name__ == "__main__":
    main()
