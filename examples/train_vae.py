"""The Auto-Encoding Variational Bayes experiment: an MLP VAE on binarized MNIST, trained with `fit()`.

    python examples/train_vae.py                   # 10 epochs, 20 latents: about two minutes on a CPU
    python examples/train_vae.py --latent-dim 2    # also the 2-D latent manifold of the paper's figure 4
    python examples/train_vae.py --smoke           # seconds: tiny data, one short epoch

Kingma & Welling (2014): the encoder gives q(z|x) = N(mu, sigma^2), a sample
z = mu + sigma * eps keeps the objective differentiable, the decoder gives
Bernoulli pixel probabilities, and training maximises the ELBO, whose KL term
has a closed form. Each epoch prints the training and test -ELBO in nats per
image. At the end the test log-likelihood is estimated with importance
sampling (Burda et al., 2016), which is tighter than the ELBO.

Writes into --output-dir (default saved_models/vae): model.keras, samples.png,
reconstructions.png, manifold.png (with --latent-dim 2), results.json,
encode.tflite, decode.tflite and a TF Serving version folder. Everything else
is a constant below. Production runs: `tfvae train vae`.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter; errors still show

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tfvae  # noqa: E402

HIDDEN_UNITS = (500,)  # one tanh layer in encoder and decoder, as in the paper's MNIST runs
BATCH_SIZE = 100
LEARNING_RATE = 1e-3
IW_SAMPLES = 1000  # k of the importance-weighted bound
SEED = 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    p.add_argument("--latent-dim", type=int, default=20, help="latent dimensions (default: 20; 2 draws the manifold)")
    p.add_argument("--output-dir", default="saved_models/vae", help="where everything is written")
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)
    out = args.output_dir
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    began = time.perf_counter()

    # ## Data
    # Larochelle's fixed binarisation of MNIST: pixels are 0 or 1, so the Bernoulli
    # likelihood is a probability and the -ELBO bounds -log p(x) in nats.
    train = tfvae.data.load("binarized_mnist", "train[:1000]" if args.smoke else "train", BATCH_SIZE, seed=SEED)
    x_test = tfvae.data.load_arrays("binarized_mnist", "test", limit=200 if args.smoke else None)

    # ## Model
    vae = tfvae.VAE.mlp(x_test.shape[1:], latent_dim=args.latent_dim,
                        hidden_units=(32,) if args.smoke else HIDDEN_UNITS, likelihood="bernoulli", seed=SEED)
    vae.compile(keras.optimizers.Adam(LEARNING_RATE))
    print(f"VAE: {vae.count_params():,} parameters, {args.latent_dim} latent dimensions")

    # ## Training
    # `loss` is the -ELBO, `reconstruction` its -E_q log p(x|z) and `kl` the KL term,
    # all in nats per image. One line per epoch in a log, a progress bar on a terminal.
    # `train` is shuffled by tfvae.data.load; Keras' own shuffling applies to arrays only.
    vae.fit(train, epochs=1 if args.smoke else args.epochs, validation_data=(x_test,), shuffle=False,
            verbose=1 if sys.stdout.isatty() else 2)
    test = vae.evaluate(x_test, batch_size=500, return_dict=True, verbose=0)

    # ## The test log-likelihood
    # log p(x) >= log (1/k) sum_i p(x, z_i) / q(z_i|x); k = 1 is the ELBO.
    k = 20 if args.smoke else IW_SAMPLES
    log_px = vae.log_likelihood(x_test, num_samples=k, seed=SEED)
    print(f"test -ELBO {test['loss']:.2f} nats (KL {test['kl']:.2f}); "
          f"importance-weighted NLL (k={k}) {-log_px.mean():.2f} nats, "
          f"{tfvae.metrics.bits_per_dim(-log_px.mean(), x_test, 'bernoulli'):.4f} bits/dim")

    # ## Looking at the model
    tfvae.images.save_png(os.path.join(out, "samples.png"), vae.sample(100, seed=SEED).numpy(), columns=10)
    reconstructions = vae.reconstruct(x_test[:50]).numpy()
    tfvae.images.save_png(os.path.join(out, "reconstructions.png"),
                          tfvae.images.interleave(x_test[:50], reconstructions), columns=10)
    if args.latent_dim == 2:
        # Decoded images of a 20x20 grid of latents at the Gaussian's quantiles.
        manifold = tfvae.images.latent_manifold(vae, size=20)
        tfvae.images.save_png(os.path.join(out, "manifold.png"), manifold, columns=20)

    # ## Save, reload, export
    path = os.path.join(out, "model.keras")
    vae.save(path)
    reloaded = keras.saving.load_model(path)
    same = np.allclose(reloaded.decode(np.zeros((1, args.latent_dim), "float32")),
                       vae.decode(np.zeros((1, args.latent_dim), "float32")))
    print(f"reloaded {path}: same decoder output {same}")
    version_dir = tfvae.export.export_saved_model(vae, out)  # encode, decode, sample, ... signatures
    for signature in ("encode", "decode"):
        tfvae.export.export_tflite(vae, os.path.join(out, f"{signature}.tflite"), signature=signature)

    results = {"test_nelbo": test["loss"], "test_kl": test["kl"], "test_nll": float(-log_px.mean()),
               "iw_samples": k, "iw_examples": len(x_test), "saved_model": version_dir,
               "seconds": round(time.perf_counter() - began, 1)}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"Wrote model.keras, images, results.json, {version_dir} and .tflite files to {out}")


if __name__ == "__main__":
    main()
