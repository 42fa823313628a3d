"""CIFAR-10 within a wall-clock budget: a VAE's test bits/dim, and a VQ-VAE with its two-stage bound.

    python benchmarks/bench_cifar10.py                                   # 60 + 25 + 15 minutes
    python benchmarks/bench_cifar10.py --vae-minutes 5 --vqvae-minutes 3 --prior-minutes 2   # a quick look

Rows (all on the full CIFAR-10 of TFDS, 50,000 training and 10,000 test
images, read offline from $TFDS_DATA_DIR):

1. `VAE.resnet` with the discretised logistic mixture (5 components,
   channel-autoregressive) and a spatial latent of 16x16x8: the test
   -ELBO in bits/dim on all 10,000 test images (an upper bound on -log2 p(x)
   per dimension), and its curve against training time.
2. `VQVAE.resnet` (EMA codebook, K = 512, an 8x8 code grid): test normalised
   MSE and codebook usage; then a gated `PixelCNNPrior` on its codes and the
   two-stage bound (`tfvae.generative.nll_bound`: the prior's nats plus a
   discretised Gaussian around the reconstructions with the scale fitted on
   training images).

Each model trains until its budget in minutes is spent (checked after each
batch), so the figures say what this machine reaches in that time. Prints
one Markdown table with the parameters, steps, epochs and wall time of each
row beside the published anchors (VQ-VAE 4.67, IAF-VAE 3.11, PixelCNN++ 2.92
bits/dim).
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

ANCHORS = [
    ("VQ-VAE + PixelCNN prior (van den Oord et al., 2017)", 4.67),
    ("IAF-VAE (Kingma et al., 2016)", 3.11),
    ("PixelCNN++ (Salimans et al., 2017)", 2.92),
]


def _budget(minutes, curve=None, evaluate=None, every_seconds=None):
    """A callback that stops `fit` once `minutes` have passed, optionally recording (seconds, figure) pairs."""
    import keras

    class Budget(keras.callbacks.Callback):
        # The clock starts when the callback is made and runs across the one-epoch `fit` calls.
        start = time.perf_counter()
        next_eval = every_seconds

        def on_train_batch_end(self, batch, logs=None):
            elapsed = time.perf_counter() - self.start
            if evaluate is not None and elapsed >= self.next_eval:
                curve.append((elapsed, evaluate()))
                self.next_eval += every_seconds
            if elapsed >= minutes * 60:
                self.model.stop_training = True

    return Budget()


def _train_dataset(x, batch_size, seed):
    """One dataset for the whole run (a new order each pass): a dataset per epoch would copy the 600 MB of
    training images into a new tensor every time."""
    import tensorflow as tf

    return (tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def vae_row(x_train, x_test, minutes, batch_size, seed):
    import keras
    import numpy as np

    import tfvae

    keras.utils.set_random_seed(seed)
    vae = tfvae.VAE.resnet((32, 32, 3), latent_channels=8, downsample_factor=2, base_filters=32, max_filters=64,
                           num_blocks=1, attention=False, likelihood="discretized_logistic_mixture",
                           kl_warmup_steps=1000)
    vae.compile(keras.optimizers.Adam(2e-3))
    dims = np.prod(x_test.shape[1:]) * math.log(2)

    def test_bpd(x):
        return float(vae.evaluate(x, batch_size=250, verbose=0, return_dict=True)["loss"]) / dims

    curve = []
    budget = _budget(minutes, curve, lambda: test_bpd(x_test[:1000]), every_seconds=max(60, minutes * 6))
    start = budget.start
    train = _train_dataset(x_train, batch_size, seed)
    while time.perf_counter() - start < minutes * 60:
        vae.fit(train, epochs=1, verbose=0, callbacks=[budget])
    seconds = time.perf_counter() - start
    # KL warm-up is over long before the budget ends, so the test loss is the -ELBO itself (beta = 1).
    bpd = test_bpd(x_test)
    return {"name": "VAE.resnet, discretised logistic mixture, latent 16x16x8", "params": vae.count_params(),
            "steps": int(vae.optimizer.iterations.numpy()), "epochs": round(float(vae.optimizer.iterations.numpy())
                                                                            * batch_size / len(x_train), 2),
            "seconds": seconds, "bits_per_dim": bpd, "curve": curve}


def vqvae_rows(x_train, x_test, vq_minutes, prior_minutes, batch_size, seed):
    import keras
    import numpy as np

    import tfvae

    keras.utils.set_random_seed(seed)
    vqvae = tfvae.VQVAE.resnet((32, 32, 3), num_embeddings=512, embedding_dim=16, downsample_factor=4,
                               base_filters=32, max_filters=64, num_blocks=1, attention=False,
                               data_variance=float(np.var(x_train)), seed=seed)
    vqvae.compile(keras.optimizers.Adam(1e-3))
    budget = _budget(vq_minutes)
    start = budget.start
    train = _train_dataset(x_train, batch_size, seed)
    while time.perf_counter() - start < vq_minutes * 60:
        vqvae.fit(train, epochs=1, verbose=0, callbacks=[budget])
    vq_seconds = time.perf_counter() - start
    test = vqvae.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
    vq_steps = int(vqvae.optimizer.iterations.numpy())

    train_codes = tfvae.generative.encode_dataset(vqvae, x_train)
    keras.utils.set_random_seed(seed)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 512, filters=64, num_layers=8)
    prior.compile(keras.optimizers.Adam(1e-3))
    budget = _budget(prior_minutes)
    start = budget.start
    while time.perf_counter() - start < prior_minutes * 60:
        prior.fit(train_codes, batch_size=batch_size, epochs=1, verbose=0, callbacks=[budget])
    prior_seconds = time.perf_counter() - start
    scale = tfvae.generative.observation_scale(vqvae, x_train[:10_000])
    bound = tfvae.generative.nll_bound(vqvae, prior, x_test, observation_scale=scale)
    return {
        "name": "VQVAE.resnet (EMA, K = 512, 8x8 codes) + PixelCNNPrior, discretised Gaussian of fitted scale",
        "params": vqvae.count_params() + prior.count_params(),
        "steps": f"{vq_steps} + {int(prior.optimizer.iterations.numpy())}",
        "epochs": f"{vq_steps * batch_size / len(x_train):.2f} + "
                  f"{int(prior.optimizer.iterations.numpy()) * batch_size / len(x_train):.2f}",
        "seconds": vq_seconds + prior_seconds,
        "bits_per_dim": float(bound["bits_per_dim"].mean()),
        "normalised_mse": float(test["reconstruction"]), "codebook_usage": float(test["codebook_usage"]),
        "perplexity": float(test["perplexity"]), "observation_scale": scale,
        "prior_bits_per_dim": float(bound["prior_nats"].mean() / (np.prod(x_test.shape[1:]) * math.log(2))),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vae-minutes", type=float, default=60.0)
    p.add_argument("--vqvae-minutes", type=float, default=25.0)
    p.add_argument("--prior-minutes", type=float, default=15.0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", choices=["vae", "vqvae"], action="append", default=[])
    a = p.parse_args(argv)

    import keras
    import tensorflow as tf

    import tfvae

    x_train = tfvae.data.load_arrays("cifar10", "train")
    x_test = tfvae.data.load_arrays("cifar10", "test")
    print(f"# CIFAR-10 on {device_description()}, tensorflow {tf.__version__}, keras {keras.__version__}, "
          f"tfvae {tfvae.__version__}; train {x_train.shape}, test {x_test.shape}", flush=True)
    rows = []
    if "vae" not in a.skip:
        rows.append(vae_row(x_train, x_test, a.vae_minutes, a.batch_size, a.seed))
        print(f"VAE: {rows[-1]['bits_per_dim']:.3f} bits/dim on the 10,000 test images after "
              f"{rows[-1]['seconds'] / 60:.1f} min ({rows[-1]['steps']} steps)", flush=True)
        print("VAE test bits/dim over training time (first 1,000 test images):", flush=True)
        for seconds, bpd in rows[-1]["curve"]:
            print(f"  {seconds / 60:6.1f} min  {bpd:.3f}", flush=True)
    if "vqvae" not in a.skip:
        rows.append(vqvae_rows(x_train, x_test, a.vqvae_minutes, a.prior_minutes, a.batch_size, a.seed))
        r = rows[-1]
        print(f"VQ-VAE test: normalised MSE {r['normalised_mse']:.4f}, codebook usage {r['codebook_usage']:.3f}, "
              f"perplexity {r['perplexity']:.1f}; observation scale {r['observation_scale']:.4f}; "
              f"prior {r['prior_bits_per_dim']:.3f} of the bound's bits/dim", flush=True)
    print()
    print("| model | parameters | steps (batch %d) | epochs | wall time | test bits/dim | vs 4.67 |" % a.batch_size)
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['params']:,} | {r['steps']} | {r['epochs']} | {r['seconds'] / 60:.1f} min "
              f"| {r['bits_per_dim']:.3f} | {r['bits_per_dim'] - 4.67:+.2f} |")
    for name, bpd in ANCHORS:
        print(f"| {name} (published) | | | | | {bpd:.2f} | |")


if __name__ == "__main__":
    main()
