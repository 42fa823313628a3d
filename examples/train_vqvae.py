"""Train a VQ-VAE, fit a PixelCNN prior to its codes, and generate new images.

    python examples/train_vqvae.py                          # MNIST, 128 codes of size 16, 7x7 grid
    python examples/train_vqvae.py --conditional            # one row of samples per digit
    python examples/train_vqvae.py --epochs 30 --prior-epochs 30 --hidden-filters 128 --residual-blocks 2

Stage 1 trains the VQ-VAE (van den Oord et al., 2017) and prints per-epoch
normalised MSE, perplexity and codebook usage. Stage 2 encodes the data into
code grids and trains a gated PixelCNN prior on them, printing nats per grid
and bits per code. At the end it reports the prior's test NLL and the two-stage
model's NLL bound in bits per dimension, and writes model.keras, prior.keras,
reconstructions.png, codes.png, samples.png and results.json into --output-dir
(default saved_models/vqvae), and exports a TF Serving version folder
(--output-dir/<version>/, with sample signatures) and encode.tflite /
decode.tflite there. This is `tfvae train vqvae` with these defaults: every
flag of `tfvae train vqvae --help` works here too.
"""

import sys

from tfvae import cli

# The main job's networks, smaller than VQVAE.conv's and PixelCNNPrior's defaults so that it runs in minutes.
DEFAULTS = ["--output-dir", "saved_models/vqvae", "--hidden-filters", "64", "--residual-blocks", "1", "--prior-layers", "6"]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # The user's flags come last, so they override the defaults.
    return cli.main(["train", "vqvae", *DEFAULTS, *argv])


if __name__ == "__main__":
    sys.exit(main())
