"""VQ-VAE and a PixelCNN prior on MNIST: train both with `fit()`, generate new digits, export for serving.

    python examples/train_vqvae.py                         # the main job, a few minutes on a 2-core CPU
    python examples/train_vqvae.py --epochs 30 --prior-epochs 30 --output-dir runs/vqvae30
    python examples/train_vqvae.py --smoke                 # seconds: tiny data, one short epoch each

Neural Discrete Representation Learning (van den Oord et al., 2017) in two
stages. A VQ-VAE learns to describe each 28x28 image by a 7x7 grid of codes
from a codebook of 128 vectors. Its prior is fixed and uniform during that
training, so a second model, a gated PixelCNN, then learns the distribution of
the code grids. New images are code grids sampled from the PixelCNN and
decoded by the VQ-VAE.

Writes into --output-dir (default saved_models/vqvae): model.keras,
prior.keras, reconstructions.png, codes.png, samples.png, results.json,
training_log.csv (the VQ-VAE's figures per epoch), encode.tflite,
decode.tflite, and a TF Serving version folder (1/, 2/, ...) with `encode`,
`decode` and `sample` signatures. Everything else is a constant
below, for the reader to edit. Production runs with resuming, early stopping
and every option are `tfvae train vqvae` (see `tfvae train vqvae --help`).
"""

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter; errors still show

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfvae  # noqa: E402

# The networks of the main job: smaller than VQVAE.conv's defaults (128 filters,
# 2 residual blocks) so that it runs in minutes on a CPU.
NUM_EMBEDDINGS = 128  # codebook size K
EMBEDDING_DIM = 16  # size of each code vector
HIDDEN_FILTERS = 64
RESIDUAL_BLOCKS = 1
COMMITMENT_COST = 0.25  # beta of the paper, which found results robust from 0.1 to 2
PRIOR_LAYERS = 6  # gated PixelCNN blocks
PRIOR_FILTERS = 64
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
# The prior's Adam rate falls from this peak to 0 along a cosine over its run. In the main
# job 3 epochs so reach 2.153 nats per code, below 4 epochs at a constant 1e-3 (2.156).
PRIOR_PEAK_LEARNING_RATE = 2e-3
SEED = 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4, help="VQ-VAE epochs (default: 4)")
    p.add_argument("--prior-epochs", type=int, default=3, help="PixelCNN prior epochs (default: 3)")
    p.add_argument("--output-dir", default="saved_models/vqvae", help="where everything is written")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 512 images (for tests)")
    args = p.parse_args(argv)
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    began = time.perf_counter()
    # One line per epoch in a log file, Keras' progress bar on a terminal.
    verbose = 1 if sys.stdout.isatty() else 2

    # ## Data
    # MNIST's 8-bit grey levels scaled to [0, 1]. The reconstruction loss is the squared
    # error divided by the training pixels' variance, so 1.0 means "no better than the mean".
    split = "train[:512]" if args.smoke else "train"
    train = tfvae.data.load("mnist", split, BATCH_SIZE, seed=SEED)
    x_train = tfvae.data.load_arrays("mnist", split)
    x_test = tfvae.data.load_arrays("mnist", "test", limit=256 if args.smoke else None)
    variance = float(np.var(x_train, dtype=np.float64))

    # ## The VQ-VAE
    # Encoder (strided convolutions and a residual block) -> nearest codebook vector per
    # position (straight-through gradient) -> decoder. Its loss adds the codebook term
    # ||sg(z) - e||^2 and the commitment term beta * ||z - sg(e)||^2 to the reconstruction.
    vqvae = tfvae.VQVAE.conv(
        x_train.shape[1:], num_embeddings=NUM_EMBEDDINGS, embedding_dim=EMBEDDING_DIM,
        hidden_filters=HIDDEN_FILTERS, num_residual_blocks=RESIDUAL_BLOCKS, commitment_cost=COMMITMENT_COST,
        data_variance=variance, seed=SEED,
    )
    vqvae.compile(keras.optimizers.Adam(LEARNING_RATE))
    print(f"VQ-VAE: {vqvae.count_params():,} parameters, {vqvae.grid_shape[0]}x{vqvae.grid_shape[1]} codes per image")
    callbacks = [
        keras.callbacks.TensorBoard(os.path.join(out, "logs")),
        # Test images beside their reconstructions after every epoch (PNG files and TensorBoard).
        tfvae.callbacks.ImageGridWriter(os.path.join(out, "images"), x_test[:16], num_samples=0,
                                        log_dir=os.path.join(out, "logs")),
        # Perplexity and codebook usage: a collapsing codebook shows here first.
        tfvae.callbacks.CodebookMonitor(os.path.join(out, "logs")),
        # A checkpoint per epoch, written so that a crash cannot leave a broken one.
        tfvae.callbacks.EpochCheckpoint(os.path.join(out, "checkpoints", "vqvae")),
        # Every epoch's figures, training and validation, as one CSV row (docs/make_images.py plots it).
        keras.callbacks.CSVLogger(os.path.join(out, "training_log.csv")),
    ]
    # `train` is shuffled by tfvae.data.load; Keras' own shuffling applies to arrays only.
    vqvae.fit(train, epochs=1 if args.smoke else args.epochs, validation_data=(x_test,), shuffle=False,
              callbacks=callbacks, verbose=verbose)
    test = vqvae.evaluate(x_test, batch_size=500, return_dict=True, verbose=0)
    print(f"VQ-VAE test: normalised MSE {test['reconstruction']:.4f}, perplexity {test['perplexity']:.1f}, "
          f"codebook usage {test['codebook_usage']:.3f}")

    reconstructions = vqvae.reconstruct(x_test[:50]).numpy()
    tfvae.images.save_png(os.path.join(out, "reconstructions.png"),
                          tfvae.images.interleave(x_test[:50], reconstructions), columns=10)
    codes = vqvae.encode(x_test[:20]).numpy()  # int32 (20, 7, 7): one codebook index per position
    code_rgb = tfvae.images.code_images(codes, NUM_EMBEDDINGS, x_test.shape[1:3])  # one colour per code
    tfvae.images.save_png(os.path.join(out, "codes.png"),
                          tfvae.images.interleave(np.repeat(x_test[:20], 3, axis=-1), code_rgb), columns=10)

    # ## The prior
    # The data of the second stage are the code grids of the training images.
    train_codes = tfvae.generative.encode_dataset(vqvae, x_train)
    test_codes = tfvae.generative.encode_dataset(vqvae, x_test)
    # A gated PixelCNN (van den Oord et al., 2016): vertical and horizontal stacks of masked
    # convolutions, so each code sees every code above and to its left and nothing else.
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, NUM_EMBEDDINGS, filters=PRIOR_FILTERS, num_layers=PRIOR_LAYERS)
    prior_epochs = 1 if args.smoke else args.prior_epochs
    # A Keras learning-rate schedule is a function of the optimizer's step: cosine decay to 0 at the last step.
    steps = prior_epochs * math.ceil(len(train_codes) / BATCH_SIZE)
    prior.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(PRIOR_PEAK_LEARNING_RATE, steps)))
    print(f"PixelCNN prior: {prior.count_params():,} parameters, trained on {len(train_codes):,} code grids")
    prior.fit(train_codes, batch_size=BATCH_SIZE, epochs=prior_epochs,
              validation_data=(test_codes,), verbose=verbose,
              callbacks=[tfvae.callbacks.EpochCheckpoint(os.path.join(out, "checkpoints", "prior"))])
    prior_test = prior.evaluate(test_codes, batch_size=500, return_dict=True, verbose=0)
    codes_per_grid = vqvae.grid_shape[0] * vqvae.grid_shape[1]
    print(f"prior test NLL: {prior_test['loss'] / codes_per_grid:.4f} nats per code "
          f"({prior_test['bits_per_code']:.4f} bits per code)")

    # ## How good is the two-stage model?
    # -log p(x) <= -log p(x | z_q) - log p(z_q): the decoder read as a discretised Gaussian on
    # the 256 grey levels (its scale: the root of the training MSE) plus the prior's NLL.
    scale = tfvae.generative.observation_scale(vqvae, x_train[:10_000])
    bound = tfvae.generative.nll_bound(vqvae, prior, x_test, observation_scale=scale)
    print(f"two-stage test NLL bound: {bound['bits_per_dim'].mean():.4f} bits/dim")

    # ## New images
    samples, _ = tfvae.generative.sample_images(vqvae, prior, 100, seed=SEED)
    tfvae.images.save_png(os.path.join(out, "samples.png"), samples.numpy(), columns=10)

    # ## Save and export
    # .keras files reload with keras.saving.load_model (after `import tfvae`).
    vqvae.save(os.path.join(out, "model.keras"))
    prior.save(os.path.join(out, "prior.keras"))
    # A numbered version folder that TF Serving loads as it is, with encode, decode and
    # sample (seed -> image) signatures, and LiteRT files on builtin ops only.
    version_dir = tfvae.export.export_saved_model(vqvae, out, prior=prior)
    for signature in ("encode", "decode"):
        tfvae.export.export_tflite(vqvae, os.path.join(out, f"{signature}.tflite"), signature=signature)

    results = {
        "test_reconstruction": test["reconstruction"], "test_perplexity": test["perplexity"],
        "test_codebook_usage": test["codebook_usage"],
        "prior_test_nats_per_code": prior_test["loss"] / codes_per_grid,
        "prior_test_bits_per_code": prior_test["bits_per_code"],
        "test_nll_bound_bits_per_dim": float(bound["bits_per_dim"].mean()), "observation_scale": scale,
        "saved_model": version_dir, "seconds": round(time.perf_counter() - began, 1),
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"Wrote model.keras, prior.keras, images, results.json, {version_dir} and .tflite files to {out} "
          f"in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
