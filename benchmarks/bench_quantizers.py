"""The quantizers of tfvae on equal terms: one VQ-VAE, one data set, one budget of steps, each quantizer.

    python benchmarks/bench_quantizers.py                         # MNIST, 1,000 + 500 steps per row
    python benchmarks/bench_quantizers.py --steps 200 --prior-steps 100 --test-examples 2000   # a quick look
    python benchmarks/bench_quantizers.py --dataset cifar10

Every row trains `VQVAE.conv` (the paper's networks, a 7x7 code grid on
MNIST) with the same seed, batch (128), Adam at 1e-3 and number of steps,
then a `PixelCNNPrior` (64 filters, 8 layers) on its codes for the same
number of prior steps, and reports on the test set:

- normalised MSE (squared error over the training pixels' variance),
- codebook usage (share of the codes used at least once on the test set)
  and perplexity,
- the prior's NLL per code position (nats) and the two-stage bound in
  bits/dim (`tfvae.generative.nll_bound`: prior nats plus a discretised
  Gaussian of fitted scale around the reconstructions),
- milliseconds per training step: every model steps again after training,
  in alternating rounds of 20 steps, and the median of 5 rounds is shown
  with its ratio to the plain VQ row (this machine's speed drifts from minute
  to minute; rounds side by side keep the comparison fair).

Rows: the paper's VQ (K = 1,024), its EMA variant, VQ with cosine
similarity and 8-dimensional codes (improved VQGAN), VQ with k-means
initialisation, VQ with the rotation trick, FSQ with levels (8, 5, 5, 5)
(1,000 codes), LFQ with 10 dimensions (1,024 codes), and residual VQ with 2
and 4 EMA levels of 1,024 codes each (the prior then models a 7x14 or 7x28
grid: each position's indices side by side). Usage and perplexity of residual
VQ pool its levels' codes.
"""

import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

BATCH_SIZE = 128
K = 1024
D = 16


def _quantizers():
    from tfvae.layers import (
        FiniteScalarQuantizer,
        LookupFreeQuantizer,
        ResidualVectorQuantizer,
        VectorQuantizer,
        VectorQuantizerEMA,
    )

    return [
        ("VQ (straight-through)", lambda: VectorQuantizer(K, D, seed=0, name="quantizer")),
        ("VQ, EMA codebook", lambda: VectorQuantizerEMA(K, D, seed=0, name="quantizer")),
        ("VQ, cosine + 8-dim codes", lambda: VectorQuantizer(K, D, use_cosine_sim=True, codebook_dim=8, seed=0,
                                                             name="quantizer")),
        ("VQ, k-means init", lambda: VectorQuantizer(K, D, kmeans_init=True, seed=0, name="quantizer")),
        ("VQ, rotation trick", lambda: VectorQuantizer(K, D, gradient="rotation", seed=0, name="quantizer")),
        ("FSQ (8, 5, 5, 5)", lambda: FiniteScalarQuantizer((8, 5, 5, 5), name="quantizer")),
        ("LFQ, 10 dims", lambda: LookupFreeQuantizer(10, name="quantizer")),
        ("RVQ, 2 EMA levels", lambda: ResidualVectorQuantizer(2, K, D, seed=0, name="quantizer")),
        ("RVQ, 4 EMA levels", lambda: ResidualVectorQuantizer(4, K, D, seed=0, name="quantizer")),
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--prior-steps", type=int, default=500)
    p.add_argument("--test-examples", type=int, default=None)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", nargs="+", help="rows whose names start with these words")
    a = p.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    import tfvae

    x_train = tfvae.data.load_arrays(a.dataset, "train")
    x_test = tfvae.data.load_arrays(a.dataset, "test", limit=a.test_examples)
    variance = float(np.var(x_train))
    dims = math.prod(x_test.shape[1:])
    print(f"# {a.dataset} on {device_description()}, tensorflow {tf.__version__}, keras {keras.__version__}; "
          f"{a.steps} steps (batch {BATCH_SIZE}), prior {a.prior_steps} steps; test {len(x_test)} images",
          flush=True)
    train = (tf.data.Dataset.from_tensor_slices(x_train).shuffle(len(x_train), seed=0).repeat()
             .batch(BATCH_SIZE, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
    rows, models = [], []
    for name, make in _quantizers():
        if a.only and not any(name.startswith(w) for w in a.only):
            continue
        keras.utils.set_random_seed(0)
        quantizer = make()
        vqvae = tfvae.VQVAE.conv(x_train.shape[1:], embedding_dim=quantizer.embedding_dim, quantizer=quantizer,
                                 data_variance=variance)
        vqvae.compile(keras.optimizers.Adam(1e-3))
        start = time.perf_counter()
        vqvae.fit(train, steps_per_epoch=a.steps, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        test = vqvae.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)
        train_codes = tfvae.generative.encode_dataset(vqvae, x_train)
        test_codes = tfvae.generative.encode_dataset(vqvae, x_test)
        keras.utils.set_random_seed(0)
        prior = tfvae.PixelCNNPrior(vqvae.grid_shape, vqvae.num_embeddings, filters=64, num_layers=8)
        prior.compile(keras.optimizers.Adam(1e-3))
        codes_ds = (tf.data.Dataset.from_tensor_slices(train_codes).shuffle(len(train_codes), seed=0).repeat()
                    .batch(BATCH_SIZE, drop_remainder=True))
        prior.fit(codes_ds, steps_per_epoch=a.prior_steps, epochs=1, verbose=0)
        prior_nats = float(prior.evaluate(test_codes, batch_size=500, verbose=0, return_dict=True)["loss"])
        scale = tfvae.generative.observation_scale(vqvae, x_train[:10_000])
        bound = tfvae.generative.nll_bound(vqvae, prior, x_test, observation_scale=scale)
        rows.append({"name": name, "codes": vqvae.num_embeddings, "nmse": float(test["reconstruction"]),
                     "usage": float(test["codebook_usage"]), "perplexity": float(test["perplexity"]),
                     "prior": prior_nats / math.prod(vqvae.grid_shape),
                     "bpd": float(bound["bits_per_dim"].mean()), "train_seconds": seconds})
        models.append(vqvae)
        r = rows[-1]
        print(f"{name}: nmse {r['nmse']:.4f}, usage {r['usage']:.3f}, perplexity {r['perplexity']:.0f}, prior "
              f"{r['prior']:.3f} nats/position, {r['bpd']:.3f} bits/dim; trained in {seconds:.0f} s", flush=True)

    # Time per training step, the models side by side in alternating rounds.
    batch = next(iter(train))
    times = [[] for _ in models]
    for m in models:
        m.train_on_batch(batch)  # warm
    for _ in range(a.rounds):
        for i, m in enumerate(models):
            start = time.perf_counter()
            for _ in range(20):
                m.train_on_batch(batch)
            times[i].append((time.perf_counter() - start) / 20 * 1000)
    base = statistics.median(times[0])
    print()
    print(f"| quantizer | codes | test normalised MSE | codebook usage | perplexity | prior nats/position | "
          f"two-stage bits/dim | ms/step (median, best) | vs {rows[0]['name']} |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r, t in zip(rows, times):
        print(f"| {r['name']} | {r['codes']:,} | {r['nmse']:.4f} | {r['usage']:.3f} | {r['perplexity']:.0f} | "
              f"{r['prior']:.3f} | {r['bpd']:.3f} | {statistics.median(t):.1f}, {min(t):.1f} | "
              f"{statistics.median(t) / base:.2f}x |")
    print(f"\n{dims} values per image; test figures on {len(x_test)} images.")


if __name__ == "__main__":
    main()
