"""Train a VQ-VAE, fit a PixelCNN prior to its codes, and generate new images.

    python examples/train_vqvae.py                          # MNIST, 128 codes of size 16, 7x7 grid
    python examples/train_vqvae.py --conditional            # one row of samples per digit
    python examples/train_vqvae.py --epochs 30 --prior-epochs 30 --hidden-filters 128 --residual-blocks 2

Stage 1 trains the VQ-VAE (van den Oord et al., 2017) and prints per-epoch
normalised MSE, perplexity and codebook usage. Stage 2 encodes the data into
code grids and trains a gated PixelCNN prior on them, printing nats per grid
and bits per code. At the end it reports the prior's test NLL and the two-stage
model's NLL bound in bits per dimension, and writes model.keras, prior.keras,
reconstructions.png, codes.png, samples.png and results.json into --output-dir,
and exports a TF Serving version folder (--output-dir/<version>/, with sample
signatures) and encode.tflite / decode.tflite there.
"""

import argparse

from tfvae.training import train_vqvae_with_prior


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist", help="tfvae.data name: mnist, fashion_mnist, cifar10 (default: mnist)")
    p.add_argument("--quantizer", default="vq", choices=["vq", "ema"], help="codebook by gradient or EMA (default: vq)")
    p.add_argument("--num-embeddings", type=int, default=128, help="codebook size K (default: 128)")
    p.add_argument("--embedding-dim", type=int, default=16, help="code size D (default: 16)")
    p.add_argument("--hidden-filters", type=int, default=64, help="conv width (default: 64)")
    p.add_argument("--residual-filters", type=int, default=32, help="residual block width (default: 32)")
    p.add_argument("--downsamplings", type=int, default=2, help="stride-2 steps; grid = image / 2^n (default: 2)")
    p.add_argument("--residual-blocks", type=int, default=1, help="residual blocks per network (default: 1)")
    p.add_argument("--commitment-cost", type=float, default=0.25, help="beta (default: 0.25)")
    p.add_argument("--decay", type=float, default=0.99, help="EMA decay (default: 0.99)")
    p.add_argument("--dead-code-steps", type=int, help="restart codes unused this many steps (default: never)")
    p.add_argument("--epochs", type=int, default=4, help="VQ-VAE training epochs (default: 4)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--train-examples", type=int, help="use only the first N training images")
    p.add_argument("--conditional", action="store_true", help="condition the prior on class labels")
    p.add_argument("--prior-filters", type=int, default=64, help="prior channels (default: 64)")
    p.add_argument("--prior-layers", type=int, default=6, help="gated blocks in the prior (default: 6)")
    p.add_argument("--prior-kernel-size", type=int, default=3, help="prior kernel width, odd (default: 3)")
    p.add_argument("--prior-epochs", type=int, default=4, help="prior training epochs (default: 4)")
    p.add_argument("--prior-learning-rate", type=float, default=1e-3, help="prior Adam learning rate (default: 1e-3)")
    p.add_argument("--num-samples", type=int, default=100, help="new images in samples.png (default: 100)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1)")
    p.add_argument("--output-dir", default="saved_models/vqvae", help="where outputs go (default: saved_models/vqvae)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="skip the SavedModel (TF Serving layout) and .tflite export at the end")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="0 quiet; 1 a line per epoch, plus the progress bar on a terminal; 2 always the bar")
    a = p.parse_args(argv)
    train_vqvae_with_prior(
        dataset=a.dataset,
        conditional=a.conditional,
        vqvae_args=dict(
            quantizer=a.quantizer, num_embeddings=a.num_embeddings, embedding_dim=a.embedding_dim,
            hidden_filters=a.hidden_filters, residual_filters=a.residual_filters, num_downsamplings=a.downsamplings,
            num_residual_blocks=a.residual_blocks, commitment_cost=a.commitment_cost, decay=a.decay,
            dead_code_steps=a.dead_code_steps, epochs=a.epochs, batch_size=a.batch_size,
            learning_rate=a.learning_rate, train_examples=a.train_examples,
        ),
        prior_args=dict(
            filters=a.prior_filters, num_layers=a.prior_layers, kernel_size=a.prior_kernel_size,
            epochs=a.prior_epochs, batch_size=a.batch_size, learning_rate=a.prior_learning_rate,
        ),
        num_samples=a.num_samples, temperature=a.temperature, output_dir=a.output_dir, seed=a.seed,
        verbose=a.verbose, export=a.export,
    )

if __name__ == "__main__":
    main()
