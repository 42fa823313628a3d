"""Benchmark of the PixelCNN prior on the 7x7-code MNIST setting.

    python benchmarks/bench_prior.py                        # VQ-VAE 4 epochs, prior 5 epochs
    python benchmarks/bench_prior.py --prior-epochs 30      # the keras.io example's budget

Trains a VQ-VAE on MNIST (7x7 grid, 128 codes of size 16), encodes the data,
trains the gated PixelCNN prior on the codes and prints its test nats per code.
Then times sampling a batch of 16 grids, in this one process and after a
warm-up, with: our compiled, row-cached sampler (`prior.sample`), without
and with XLA (`jit_compile=False` / `True`); the naive
loop with one compiled full forward pass per position (`prior.sample_naive`);
and the keras.io example's way, one `predict` call per position. Times are
medians over --repeats runs; ratios are against our sampler. The keras.io
example's prior reaches 1.0336 nats per code (validation) after 30 epochs.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


# The keras.io example's PixelCNN: a 7x7 mask-"A" convolution of 128 filters on one-hot codes, two
# residual blocks (1x1, 3x3 mask "B" of 64, 1x1), two 1x1 mask-"B" layers and a 1x1 output to 128 codes.
KERAS_IO_PRIOR_PARAMS = (7 * 7 * 128 * 128 + 128) + 2 * ((128 * 128 + 128) + (3 * 3 * 128 * 64 + 64)
                                                          + (64 * 128 + 128)) + 3 * (128 * 128 + 128)


def _median_seconds(fn, repeats):
    fn()  # warm-up: tracing and first-call costs are not sampling time
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vqvae-epochs", type=int, default=4)
    p.add_argument("--prior-epochs", type=int, default=5)
    p.add_argument("--prior-filters", type=int, default=64)
    p.add_argument("--prior-layers", type=int, default=6)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from tfvae import data, reporting, training

    # The main job's VQ-VAE (examples/train_vqvae.py), trained quietly.
    config = training.FitConfig(epochs=args.vqvae_epochs, seed=args.seed, verbose=0)
    test_images = tf.data.Dataset.from_tensor_slices(data.load_arrays("mnist", "test")).batch(500)
    vq = training.train_vqvae("mnist", dict(hidden_filters=64, num_residual_blocks=1), config, test_images)
    vqvae, vq_results = vq.model, reporting.vqvae_figures(vq, test_images)
    (train_codes, _), (test_codes, _) = training.encode_splits(vqvae, "mnist")
    test_ds = tf.data.Dataset.from_tensor_slices(test_codes).batch(128)
    trained = training.train_prior(vqvae, train_codes, dict(filters=args.prior_filters, num_layers=args.prior_layers),
                                   training.FitConfig(epochs=args.prior_epochs, seed=args.seed, verbose=0),
                                   validation_data=test_ds)
    prior, results = trained.model, reporting.prior_figures(trained, test_ds)
    print(f"bench_prior: MNIST, VQ-VAE {args.vqvae_epochs} epochs (test nMSE {vq_results['test_reconstruction']:.4f}), "
          f"prior {args.prior_layers} gated blocks x {args.prior_filters} filters, {args.prior_epochs} epochs, "
          f"{prior.count_params():,} parameters, {os.cpu_count()} CPUs")
    # Baseline on the same codes: independent codes with the training set's code frequencies. Nats per
    # code depend on how many codes the VQ-VAE uses, so only a baseline on the same codes says what the
    # prior learned; the keras.io figure comes from another VQ-VAE's codes.
    counts = np.bincount(train_codes.reshape(-1), minlength=vqvae.num_embeddings) + 1.0  # add-one smoothing
    log_freq = np.log(counts / counts.sum())
    unigram = float(-log_freq[test_codes.reshape(-1)].mean())
    print(f"prior test NLL: {results['prior_test_nats_per_code']:.4f} nats per code "
          f"({results['prior_test_bits_per_code']:.4f} bits per code); train {results['prior_train_nats_per_code']:.4f}")
    print(f"baseline on the same test codes, independent codes with training frequencies: {unigram:.4f} nats per code; "
          f"VQ-VAE test codebook usage {vq_results['test_codebook_usage']:.3f}, perplexity {vq_results['test_perplexity']:.1f}")
    print(f"keras.io example (its own VQ-VAE's codes): 1.0336 nats per code after 30 epochs, "
          f"{KERAS_IO_PRIOR_PARAMS:,} parameters (ours: {prior.count_params() / KERAS_IO_PRIOR_PARAMS:.2f}x)")

    n = 16
    height, width = prior.grid_shape

    def keras_io_style():
        codes = np.zeros((n, height, width), np.int32)
        for position in range(height * width):
            i, j = divmod(position, width)
            logits = prior.predict(codes, verbose=0)[:, i, j]
            codes[:, i, j] = tf.random.stateless_categorical(logits, 1, seed=[args.seed, position])[:, 0].numpy()
        return codes

    ours = _median_seconds(lambda: prior.sample(n, seed=args.seed, jit_compile=False), args.repeats)
    xla = _median_seconds(lambda: prior.sample(n, seed=args.seed, jit_compile=True), args.repeats)
    large = {jit: _median_seconds(lambda jit=jit: prior.sample(256, seed=args.seed, jit_compile=jit), args.repeats)
             for jit in (False, True)}
    naive = _median_seconds(lambda: prior.sample_naive(n, seed=args.seed), args.repeats)
    predict = _median_seconds(keras_io_style, max(1, args.repeats // 2))
    reference = prior.sample(n, seed=args.seed, jit_compile=False).numpy()
    same = np.array_equal(reference, prior.sample_naive(n, seed=args.seed).numpy())
    same_xla = np.array_equal(reference, prior.sample(n, seed=args.seed, jit_compile=True).numpy())
    print(f"\nsampling a batch of {n} grids of {height}x{width} codes (median of {args.repeats} runs after a warm-up):")
    print("| sampler | seconds per batch | slower than ours |")
    print("|---|---|---|")
    print(f"| ours: compiled while_loop, vertical stack cached per row, jit_compile=False | {ours:.3f} | 1.0x |")
    print(f"| ours under XLA, jit_compile=True (the default) | {xla:.3f} | {xla / ours:.2f}x |")
    print(f"| naive: one compiled full forward pass per position | {naive:.3f} | {naive / ours:.1f}x |")
    print(f"| keras.io style: one predict() call per position | {predict:.3f} | {predict / ours:.1f}x |")
    print(f"ours and naive give identical grids for the same seed: {same}; ours with and without XLA: {same_xla}")
    print(f"a batch of 256 grids: {large[False]:.3f} s without XLA, {large[True]:.3f} s with XLA "
          f"(XLA / no XLA: {large[True] / large[False]:.2f}x)")


if __name__ == "__main__":
    main()
