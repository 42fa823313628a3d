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

The `keras-io` configuration wraps the example's own networks in `tfvae.VQVAE`
(two strided 3x3 convolutions of 32 and 64 filters and a 1x1 to 16 channels;
the mirror-image transposed convolutions; a codebook initialised uniformly in
[-0.05, 0.05]; pixels in [-0.5, 0.5]), so that it compares with the anchor on
equal terms. Every row prints its trainable parameter count and its ratio to the
example's (49,937).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

# Parameters of the keras.io example's encoder, decoder and codebook.
KERAS_IO_PARAMS = 49_937

CONFIGS = {
    # The keras.io example's networks in a tfvae.VQVAE (built by keras_io_vqvae).
    "keras-io": None,
    # Two strided convs, no residual blocks: our conv builder at its smallest (2.3x the example's parameters).
    "small": dict(hidden_filters=64, residual_filters=32, num_residual_blocks=0, quantizer="vq"),
    # examples/train_vqvae.py's default.
    "small-res": dict(hidden_filters=64, residual_filters=32, num_residual_blocks=1, quantizer="vq"),
    # The paper's residual stack.
    "paper": dict(hidden_filters=128, residual_filters=32, num_residual_blocks=2, quantizer="vq"),
    "paper-ema": dict(hidden_filters=128, residual_filters=32, num_residual_blocks=2, quantizer="ema"),
}


def keras_io_vqvae(variance, latent_dim=16, num_embeddings=128):
    """The keras.io VQ-VAE example's encoder and decoder around a tfvae codebook."""
    import keras
    from keras import layers

    import tfvae

    x_in = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x_in)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    encoder = keras.Model(x_in, layers.Conv2D(latent_dim, 1, padding="same")(h), name="encoder")
    z_in = keras.Input((7, 7, latent_dim))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(z_in)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    decoder = keras.Model(z_in, layers.Conv2DTranspose(1, 3, padding="same")(h), name="decoder")
    quantizer = tfvae.layers.VectorQuantizer(num_embeddings, latent_dim, commitment_cost=0.25,
                                             embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05))
    return tfvae.VQVAE(encoder, decoder, quantizer, data_variance=variance, value_range="centered")


def trainable_parameters(model):
    """Trainable parameters, as the example counts them (not the codebook's step counter or EMA statistics)."""
    import numpy as np

    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def run(name, epochs_at, batch_size, seed):
    import keras

    import tfvae

    keras.utils.set_random_seed(seed)
    value_range = "centered" if name == "keras-io" else "unit"  # keras.io scales pixels to [-0.5, 0.5]
    train = tfvae.data.load("mnist", "train", batch_size, seed=seed, value_range=value_range)
    x_test = tfvae.data.load_arrays("mnist", "test", value_range=value_range)
    variance = tfvae.data.pixel_variance("mnist")
    if name == "keras-io":
        model = keras_io_vqvae(variance)
    else:
        model = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, seed=seed,
                                 data_variance=variance, **CONFIGS[name])
    model.compile(keras.optimizers.Adam(1e-3))
    rows, times = [], []
    for epoch in range(1, max(epochs_at) + 1):
        start = time.perf_counter()
        history = model.fit(train, epochs=1, shuffle=False, verbose=0)
        times.append(time.perf_counter() - start)
        print(f"  {name} epoch {epoch}: {times[-1]:.1f} s, train nMSE {history.history['reconstruction'][-1]:.4f}",
              file=sys.stderr, flush=True)
        if epoch in epochs_at:
            test = model.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
            steady = times[1:] or times
            rows.append(dict(config=name, params=trainable_parameters(model), epoch=epoch,
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
    print(
        f"bench_vqvae: MNIST, 7x7 grid, 128 codes x 16, batch {args.batch_size}, Adam 1e-3, device {device_description()}"
    )
    print(
        "| config | trainable params (x the example's) | epochs | train nMSE | test nMSE | test perplexity | test codebook usage "
        "| train images/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.configs:
        for r in run(name, sorted(set(args.epochs)), args.batch_size, args.seed):
            print(
                f"| {r['config']} | {r['params']:,} ({r['params'] / KERAS_IO_PARAMS:.2f}x) | {r['epoch']} | {r['train_nmse']:.4f} | {r['test_nmse']:.4f} | "
                f"{r['perplexity']:.1f} | {r['usage']:.3f} | {r['throughput']:,.0f} |",
                flush=True,
            )
    print(f"| keras.io example (anchor) | {KERAS_IO_PARAMS:,} (1.00x) | 10 / 30 | 0.0612 / 0.0444 | | | | |")


if __name__ == "__main__":
    main()
