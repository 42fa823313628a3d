"""A conditional VAE on MNIST: ask for a digit, get that digit.

    python examples/conditional_vae.py --digit 7
    python examples/conditional_vae.py --conditioning prior_mean --digit 3
    python examples/conditional_vae.py --smoke

`VAE(..., num_classes=10)` trains on (image, label) pairs. Two ways to use the
label: "inputs" feeds the one-hot label to encoder and decoder with the prior
N(0, I) (Sohn et al., 2015); "prior_mean" gives each class its own learned
prior mean, p(z|y) = N(mu_y, I), so that the networks see only images and
latents and digit y is drawn from z ~ N(mu_y, I). Writes digit.png (64 images
of the chosen digit) into --output-dir.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import tfvae  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--digit", type=int, default=7)
    p.add_argument("--conditioning", choices=["inputs", "prior_mean"], default="inputs")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--output-dir", default="saved_models/conditional_vae")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)

    # Grey levels redrawn as 0/1 pixels every epoch ("dynamic binarisation"), with their labels.
    train = tfvae.data.load("mnist", "train[:1000]" if args.smoke else "train", 128, with_labels=True,
                            binarize="dynamic", seed=0)

    vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=8, hidden_units=(256,), num_classes=10,
                        conditioning=args.conditioning, seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    # tfvae.data.load shuffles; Keras' own shuffling applies to arrays only.
    vae.fit(train, epochs=1 if args.smoke else args.epochs, shuffle=False, verbose=1 if sys.stdout.isatty() else 2)

    digits = vae.sample(64, labels=args.digit, seed=0).numpy()
    os.makedirs(args.output_dir, exist_ok=True)
    path = os.path.join(args.output_dir, "digit.png")
    tfvae.images.save_png(path, digits, columns=8)
    print(f"Wrote 64 samples of the digit {args.digit} to {path}")


if __name__ == "__main__":
    main()
