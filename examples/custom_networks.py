"""Your own encoder and decoder in a `VAE` and a `VQVAE`.

    python examples/custom_networks.py
    python examples/custom_networks.py --smoke

The builders (`VAE.mlp`, `VAE.conv`, `VQVAE.conv`) are shortcuts: any Keras
networks with the right inputs and outputs work. A VAE's encoder maps images
to `[mean, log_var]`; its decoder maps latents to Bernoulli logits (or a
Gaussian's mean) of the image's shape. A VQ-VAE's encoder maps images to a
grid of vectors of the codebook's size; its decoder maps such grids back.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import layers  # noqa: E402

import tfvae  # noqa: E402

LATENT_DIM = 16
EMBEDDING_DIM = 8


def vae_networks():
    images = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    encoder = keras.Model(images, [layers.Dense(LATENT_DIM)(h), layers.Dense(LATENT_DIM)(h)], name="encoder")

    z = keras.Input((LATENT_DIM,))
    h = layers.Dense(7 * 7 * 64, activation="relu")(z)
    h = layers.Reshape((7, 7, 64))(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    logits = layers.Conv2DTranspose(1, 3, strides=2, padding="same")(h)  # logits: no sigmoid
    return encoder, keras.Model(z, logits, name="decoder")


def vqvae_networks():
    images = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    encoder = keras.Model(images, layers.Conv2D(EMBEDDING_DIM, 1)(h), name="encoder")  # (7, 7, 8)

    grid = keras.Input((7, 7, EMBEDDING_DIM))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(grid)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    return encoder, keras.Model(grid, layers.Conv2D(1, 3, padding="same")(h), name="decoder")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)
    split, epochs = ("train[:1000]", 1) if args.smoke else ("train", args.epochs)
    verbose = 1 if sys.stdout.isatty() else 2

    encoder, decoder = vae_networks()
    vae = tfvae.VAE(encoder, decoder, likelihood="bernoulli", seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.fit(tfvae.data.load("binarized_mnist", split, 100, seed=0), epochs=epochs, shuffle=False, verbose=verbose)
    x_test = tfvae.data.load_arrays("binarized_mnist", "test", limit=1000)
    print(f"conv VAE: test -ELBO {vae.evaluate(x_test, return_dict=True, verbose=0)['loss']:.2f} nats")

    encoder, decoder = vqvae_networks()
    x_train = tfvae.data.load_arrays("mnist", split)
    vqvae = tfvae.VQVAE(encoder, decoder, tfvae.VectorQuantizer(64, EMBEDDING_DIM, seed=0),
                        data_variance=float(x_train.var()))
    vqvae.compile(keras.optimizers.Adam(1e-3))
    vqvae.fit(x_train, batch_size=128, epochs=epochs, verbose=verbose)
    result = vqvae.evaluate(tfvae.data.load_arrays("mnist", "test", limit=1000), return_dict=True, verbose=0)
    print(f"VQ-VAE: test normalised MSE {result['reconstruction']:.4f}, codebook usage {result['codebook_usage']:.2f}")


if __name__ == "__main__":
    main()
