"""Train the VAE of Auto-Encoding Variational Bayes and write its figures.

    python examples/train_vae.py                       # MLP, 500 tanh units, 20 latents, binarized MNIST, 10 epochs
    python examples/train_vae.py --latent-dim 2        # also the 2-D latent manifold
    python examples/train_vae.py --conditional         # a ConditionalVAE on MNIST
    python examples/train_vae.py --dataset frey_face --hidden-units 200 --latent-dim 5 --learning-rate 3e-3 --epochs 100

Prints train and test -ELBO per epoch and the importance-weighted test NLL
(k=1000, all test images), writes model.keras, samples.png, reconstructions.png
(and manifold.png) and results.json into --output-dir (default saved_models/vae),
and exports a TF Serving version folder (--output-dir/<version>/) and
encode.tflite / decode.tflite there. This is `tfvae train vae` with the
paper's defaults: every flag of `tfvae train vae --help` works here too.
"""

import sys

from tfvae import cli

DEFAULTS = ["--output-dir", "saved_models/vae", "--iw-samples", "1000", "--iw-examples", "10000"]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    kind = "vae"
    if "--conditional" in argv:
        argv.remove("--conditional")
        kind = "cvae"
    # The user's flags come last, so they override the defaults.
    return cli.main(["train", kind, *DEFAULTS, *argv])


if __name__ == "__main__":
    sys.exit(main())
