"""Your own images: a folder of pictures in, a VQ-VAE, its prior and new pictures out.

    python examples/your_images.py photos/ --image-size 64
    python examples/your_images.py --smoke

A folder of PNG, JPEG, BMP or GIF files (class sub-folders are fine; their
names become labels) is read by `tfvae.data`, each image cropped to a square
at its centre and resized to --image-size, staying on its 256 levels. A
VQ-VAE with VQGAN-style residual networks (`VQVAE.resnet`) learns to turn each
image into a grid of codes and back; a gated PixelCNN then learns which code
grids are likely, and its samples, decoded, are new pictures. Every 10th file
(in sorted order) is held out as the test split. With --smoke and no folder,
a small folder of generated pictures stands in.

Writes into --output-dir: reconstructions.png (test images beside their
reconstructions), samples.png, vqvae.keras and prior.keras.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfvae  # noqa: E402


def write_stand_in_folder(path, n=96, size=40):
    """Pictures of discs of two colours on a noisy background, in two class folders (for --smoke)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for label, colour in enumerate(((220, 60, 40), (40, 90, 220))):
        os.makedirs(os.path.join(path, f"class_{label}"), exist_ok=True)
        for i in range(n // 2):
            image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
            cy, cx, r = rng.integers(12, 28), rng.integers(12, 28), rng.integers(5, 11)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = colour
            tf.io.write_file(os.path.join(path, f"class_{label}", f"{i:03d}.png"), tf.io.encode_png(image))
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", help="a folder of images")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20, help="VQ-VAE epochs (the prior gets as many)")
    p.add_argument("--output-dir", default="saved_models/your_images")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on a small stand-in folder (for tests)")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)
    verbose = 1 if sys.stdout.isatty() else 2
    os.makedirs(args.output_dir, exist_ok=True)
    folder = args.folder
    if folder is None:
        if not args.smoke:
            p.error("give a folder of images (or --smoke)")
        folder = write_stand_in_folder(os.path.join(args.output_dir, "stand_in_images"))
    size = 16 if args.smoke else args.image_size
    epochs = 1 if args.smoke else args.epochs

    # Data: one DataSource, so the folder is listed and every file checked once.
    source = tfvae.data.DataSource(folder, image_size=size)
    info = source.info
    print(f"{folder}: images of {info.image_shape}, {info.num_classes} classes")
    train = tfvae.data.load(source, "train", 32, seed=0)
    x_test = tfvae.data.load_arrays(source, "test")
    variance = tfvae.data.pixel_variance(source, "train")

    # The VQ-VAE: residual networks with attention, a 1/4-size grid of codes from an EMA codebook.
    width = 8 if args.smoke else 64
    vqvae = tfvae.VQVAE.resnet(info.image_shape, num_embeddings=64 if args.smoke else 512, embedding_dim=8,
                               base_filters=width, max_filters=2 * width, num_blocks=1 if args.smoke else 2,
                               data_variance=variance, seed=0)
    vqvae.compile(keras.optimizers.Adam(3e-4))
    vqvae.fit(train, epochs=epochs, shuffle=False, verbose=verbose)  # load() shuffles
    test = vqvae.evaluate(x_test, verbose=0, return_dict=True)
    print(f"test: normalised MSE {test['reconstruction']:.4f}, codebook usage {test['codebook_usage']:.2f}")

    # The prior: a gated PixelCNN over the code grids of the training images.
    codes = tfvae.generative.encode_dataset(vqvae, tfvae.data.load(source, "train", 64, shuffle=False))
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, vqvae.num_embeddings, filters=16 if args.smoke else 128,
                                num_layers=2 if args.smoke else 12)
    prior.compile(keras.optimizers.Adam(1e-3))
    prior.fit(codes, batch_size=32, epochs=epochs, verbose=verbose)

    # New pictures, and the test images beside their reconstructions.
    samples, _ = tfvae.generative.sample_images(vqvae, prior, 16, seed=0)
    tfvae.images.save_png(os.path.join(args.output_dir, "samples.png"), samples.numpy(), columns=4)
    pairs = tfvae.images.interleave(x_test[:8], vqvae.reconstruct(x_test[:8]).numpy())
    tfvae.images.save_png(os.path.join(args.output_dir, "reconstructions.png"), pairs, columns=4)
    vqvae.save(os.path.join(args.output_dir, "vqvae.keras"))
    prior.save(os.path.join(args.output_dir, "prior.keras"))
    print(f"Wrote samples.png, reconstructions.png, vqvae.keras and prior.keras into {args.output_dir}")


if __name__ == "__main__":
    main()
