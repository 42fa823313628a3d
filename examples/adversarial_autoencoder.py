"""An adversarial autoencoder on MNIST: codes shaped like N(0, I), so that decoding N(0, I) draws makes digits.

    python examples/adversarial_autoencoder.py
    python examples/adversarial_autoencoder.py --conditional
    python examples/adversarial_autoencoder.py --smoke

Makhzani et al., *Adversarial Autoencoders* (2016). An autoencoder's codes
can lie anywhere, so decoding a random point gives nothing. Here a
discriminator learns to tell the encoder's codes from draws of a prior
p(z) = N(0, I), and the encoder learns to fool it: the codes of the data come
to follow p(z), and the decoder turns any draw of p(z) into a digit. Each
training step makes three updates, each with its own optimizer, passed to
`compile`: reconstruction (encoder and decoder), discriminator, and generator
(the encoder against the discriminator).

`--conditional` trains the paper's class-conditional prior (section 2.3):
each digit y gets its own Gaussian p(z|y) = N(mu_y, I), and the discriminator
sees the label beside each code. Then decoding draws of p(z|y) makes digits
of class y, so the samples come out in rows of one digit each.

Writes samples.png (decoded draws of p(z)) and model.keras into --output-dir,
and exports a SavedModel with a `sample` signature.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfvae  # noqa: E402

LATENT_DIM = 8  # the paper's code size for MNIST


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--output-dir", default="saved_models/adversarial_autoencoder")
    p.add_argument("--conditional", action="store_true", help="one prior Gaussian per digit (labels needed)")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)

    # Data: grey-level MNIST in [0, 1]; (images, labels) for the conditional prior.
    labelled = args.conditional
    train = tfvae.data.load("mnist", "train[:1000]" if args.smoke else "train", 100, seed=0, with_labels=labelled)
    test = tfvae.data.load("mnist", "test", 500, shuffle=False, with_labels=labelled)

    # Model: MLP encoder and decoder, and a discriminator of codes.
    # With num_classes, the prior has one mean per digit (aae.prior_means, on the code axes).
    aae = tfvae.AdversarialAutoencoder.mlp((28, 28, 1), LATENT_DIM, hidden_units=(512,),
                                           discriminator_units=(256, 256), num_classes=10 if labelled else None,
                                           seed=0)
    # One optimizer per update. Equal rates keep the adversaries balanced: with
    # the encoder's generator update 5x slower than its reconstruction update,
    # reconstruction pulled the codes away faster than the generator could bring
    # them back, and the discriminator won (docs/models.md, "The autoencoders").
    aae.compile(optimizer=keras.optimizers.Adam(1e-3),
                discriminator_optimizer=keras.optimizers.Adam(1e-3),
                generator_optimizer=keras.optimizers.Adam(1e-3))
    # Logged per epoch: loss (squared error per image), discriminator_loss and generator_loss
    # (log 4 and log 2 when the discriminator cannot tell), and mmd, how far the codes are from N(0, I).
    aae.fit(train, validation_data=test, epochs=1 if args.smoke else args.epochs, shuffle=False,
            verbose=1 if sys.stdout.isatty() else 2)

    # Results: the test codes' distance to the prior, and new digits from it.
    figures = aae.evaluate(test, verbose=0, return_dict=True)
    x_test, y_test = tfvae.data.load_arrays("mnist", "test", with_labels=True, limit=1000)
    codes = aae.encode(x_test).numpy()
    if labelled:
        # Each test code should lie nearest the prior mean of its own digit.
        distances = np.linalg.norm(codes[:, None, :] - aae.prior_means[None], axis=-1)
        nearest = np.mean(distances.argmin(1) == y_test)
        print(f"test: squared error {figures['loss']:.1f} per image, MMD^2 of the codes to p(z|y) "
              f"{figures['mmd']:.4f}; codes nearest their own digit's mean: {nearest:.1%}")
        labels = np.repeat(np.arange(10), 10)  # row i: ten samples of digit i
    else:
        print(f"test: squared error {figures['loss']:.1f} per image, MMD^2 of the codes to N(0, I) "
              f"{figures['mmd']:.4f}; code means {np.round(codes.mean(0), 2)}, "
              f"standard deviations {np.round(codes.std(0), 2)}")
        labels = None
    os.makedirs(args.output_dir, exist_ok=True)
    samples = aae.sample(100, labels=labels, seed=0).numpy()
    tfvae.images.save_png(os.path.join(args.output_dir, "samples.png"), samples, columns=10)

    # Save and export: the SavedModel's `sample` signature takes one int64 seed per image
    # (and, for the conditional prior, an int32 label per image).
    aae.save(os.path.join(args.output_dir, "model.keras"))
    version = tfvae.export.export_saved_model(aae, args.output_dir)
    print(f"Wrote samples.png and model.keras, and the SavedModel {version}, to {args.output_dir}")


if __name__ == "__main__":
    main()
