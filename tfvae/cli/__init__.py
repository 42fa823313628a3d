"""The `tfvae` command line: train, evaluate, sample, export.

    tfvae train vae --dataset binarized_mnist --epochs 10 --output-dir runs/vae
    tfvae train ae --noise-stddev 0.5 --output-dir runs/dae          # a denoising autoencoder
    tfvae train aae --latent-dim 8 --output-dir runs/aae             # an adversarial autoencoder
    tfvae train vqvae --epochs 4 --prior-epochs 4 --output-dir runs/vqvae   # VQ-VAE and its prior
    tfvae train prior --vqvae runs/vqvae/model.keras --epochs 10 --output-dir runs/prior
    tfvae evaluate runs/vae/model.keras --iw-samples 1000
    tfvae sample runs/vqvae/model.keras --prior runs/vqvae/prior.keras -n 64 --out samples.png
    tfvae export runs/vae/model.keras --saved-model serving/vae --tflite vae_decode.tflite

Each training run is one `fit()` call. It writes a checkpoint every epoch to
OUTPUT_DIR/checkpoints (with the state of early stopping and learning-rate
reduction); `--resume` continues from the last one and reaches the weights an
uninterrupted run would. Training is `tfvae.training`; this package parses
the flags into its configs (`parser`), runs each command (`train`,
`evaluate`, `sample`, `export`) and reports on the results (`reporting`,
which only the command line uses).
"""

import json
import sys

from tfvae.cli import evaluate, export, parser, sample, train

__all__ = ["main"]


def main(argv=None):
    args = parser.build_parser().parse_args(argv)
    commands = {"train": train.run, "evaluate": evaluate.run, "sample": sample.run, "export": export.run}
    try:
        results = commands[args.command](args)
    except (ValueError, FileExistsError, RuntimeError, FloatingPointError) as e:
        # Errors users can act on: one line, no traceback.
        print(f"tfvae {args.command}: error: {e}", file=sys.stderr)
        return 2
    if args.command == "evaluate" and args.json:
        print(json.dumps(results, indent=2))
    elif args.command != "train":
        for key, value in results.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0

