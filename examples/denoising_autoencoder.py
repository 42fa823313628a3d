"""A denoising autoencoder on MNIST: train on corrupted digits, recover clean ones.

    python examples/denoising_autoencoder.py
    python examples/denoising_autoencoder.py --smoke

An autoencoder maps an image x to a short code z = g(x) and back,
x_bar = h(z), and learns by making x_bar close to x. A denoising autoencoder
(Vincent et al., 2008) sees a corrupted copy x_tilde = x + eps, eps ~ N(0, s^2),
and must still reconstruct the clean x: minimise ||x - h(g(x_tilde))||^2. It
cannot copy its input, so it learns what digits look like. `noise_stddev`
switches this on; the corruption happens inside `fit` only, so `reconstruct`
takes any image as it is. For comparison a plain autoencoder is trained on
the same data, and both clean up the same noisy test images.

Writes denoised.png into --output-dir: rows of (clean, noisy, plain
autoencoder's reconstruction, denoising autoencoder's reconstruction).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfvae  # noqa: E402

NOISE = 0.5  # standard deviation of the corruption, on pixels in [0, 1]
LATENT_DIM = 32


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--output-dir", default="saved_models/denoising_autoencoder")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)
    verbose = 1 if sys.stdout.isatty() else 2

    # Data: grey-level MNIST in [0, 1]; test images with noise of the kind the model trains on.
    train = tfvae.data.load("mnist", "train[:1000]" if args.smoke else "train", 128, seed=0)
    x_test = tfvae.data.load_arrays("mnist", "test", limit=1000)
    rng = np.random.default_rng(1)
    noisy = np.clip(x_test + rng.normal(0.0, NOISE, x_test.shape), 0.0, 1.0).astype("float32")

    # Two models with the same networks: one plain, one trained on corrupted inputs.
    models = {}
    for name, noise in (("plain", 0.0), ("denoising", NOISE)):
        model = tfvae.Autoencoder.mlp((28, 28, 1), LATENT_DIM, hidden_units=(512,), noise_stddev=noise, seed=0)
        model.compile(keras.optimizers.Adam(1e-3))
        print(f"Training the {name} autoencoder")
        # tfvae.data.load shuffles; Keras' own shuffling applies to arrays only.
        model.fit(train, epochs=1 if args.smoke else args.epochs, shuffle=False, verbose=verbose)
        models[name] = model

    # Results: how close each gets to the clean digits from the noisy ones (squared error per image).
    def error(images):
        return float(((images - x_test) ** 2).sum(axis=(1, 2, 3)).mean())

    cleaned = {name: model.reconstruct(noisy).numpy() for name, model in models.items()}
    print(f"squared error to the clean test images: noisy input {error(noisy):.1f}, plain autoencoder "
          f"{error(cleaned['plain']):.1f}, denoising autoencoder {error(cleaned['denoising']):.1f}")

    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "denoised.png")
    rows = tfvae.images.interleave(x_test[:10], noisy[:10], cleaned["plain"][:10], cleaned["denoising"][:10])
    tfvae.images.save_png(path, rows, columns=8)
    print(f"Wrote {path}")


if __name__ == "__main__":
    main()
