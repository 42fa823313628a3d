"""Train the VAE of Auto-Encoding Variational Bayes and write its figures.

    python examples/train_vae.py                       # MLP, 20 latents, binarized MNIST
    python examples/train_vae.py --latent-dim 2        # also the 2-D latent manifold
    python examples/train_vae.py --dataset frey_face --hidden-units 200 --latent-dim 5 --learning-rate 3e-3 --epochs 100

Prints train and test -ELBO per epoch and the importance-weighted test NLL, and
writes model.keras, samples.png, reconstructions.png (and manifold.png) and
results.json into --output-dir, and exports a TF Serving version folder
(--output-dir/<version>/) and encode.tflite / decode.tflite there.
"""

import argparse

from tfvae.training import train_vae


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="binarized_mnist", help="tfvae.data name (default: binarized_mnist)")
    p.add_argument("--architecture", default="mlp", choices=["mlp", "conv"], help="network family (default: mlp)")
    p.add_argument("--latent-dim", type=int, default=20, help="latent dimensions (default: 20)")
    p.add_argument("--hidden-units", type=int, nargs="+", default=[500], help="hidden layer widths (default: 500)")
    p.add_argument("--likelihood", choices=["bernoulli", "gaussian"], help="default: bernoulli for binary data")
    p.add_argument("--conditional", action="store_true", help="train a ConditionalVAE on the labels")
    p.add_argument("--binarize", choices=["dynamic"], help="fresh binarisation of grey levels each epoch")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    p.add_argument("--batch-size", type=int, default=100, help="batch size (default: 100)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight (default: 1)")
    p.add_argument("--kl-warmup-steps", type=int, default=0, help="linear KL warm-up steps (default: 0)")
    p.add_argument("--train-examples", type=int, help="use only the first N training examples")
    p.add_argument("--iw-samples", type=int, default=1000, help="k of the importance-weighted NLL; 0 skips (default: 1000)")
    p.add_argument("--iw-examples", type=int, help="test images for the NLL (default: all)")
    p.add_argument("--output-dir", default="saved_models/vae", help="where outputs go (default: saved_models/vae)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="skip the SavedModel (TF Serving layout) and .tflite export at the end")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="0 quiet; 1 a line per epoch, plus the progress bar on a terminal; 2 always the bar")
    args = p.parse_args(argv)
    train_vae(**{k: (tuple(v) if k == "hidden_units" else v) for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
