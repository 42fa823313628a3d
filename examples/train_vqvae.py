"""Train a VQ-VAE (Neural Discrete Representation Learning) and write its figures.

    python examples/train_vqvae.py                          # MNIST, 128 codes of size 16, 7x7 grid
    python examples/train_vqvae.py --quantizer ema --epochs 10
    python examples/train_vqvae.py --dataset fashion_mnist --hidden-filters 128 --residual-blocks 2

Prints per-epoch normalised MSE, perplexity and codebook usage on training and
test data, and writes model.keras, reconstructions.png, codes.png and
results.json into --output-dir. (The PixelCNN prior stage comes with its issue.)
"""

import argparse

from tfvae.training import train_vqvae


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
    p.add_argument("--epochs", type=int, default=5, help="training epochs (default: 5)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--train-examples", type=int, help="use only the first N training images")
    p.add_argument("--output-dir", default="saved_models/vqvae", help="where outputs go (default: saved_models/vqvae)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2], help="0 quiet, 1 per epoch, 2 progress bar")
    a = p.parse_args(argv)
    train_vqvae(
        dataset=a.dataset, quantizer=a.quantizer, num_embeddings=a.num_embeddings, embedding_dim=a.embedding_dim,
        hidden_filters=a.hidden_filters, residual_filters=a.residual_filters, num_downsamplings=a.downsamplings,
        num_residual_blocks=a.residual_blocks, commitment_cost=a.commitment_cost, decay=a.decay,
        dead_code_steps=a.dead_code_steps, epochs=a.epochs, batch_size=a.batch_size,
        learning_rate=a.learning_rate, train_examples=a.train_examples, output_dir=a.output_dir,
        seed=a.seed, verbose=a.verbose,
    )


if __name__ == "__main__":
    main()
