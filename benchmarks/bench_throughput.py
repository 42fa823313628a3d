"""Training throughput of every model with and without XLA, and the input pipeline against it.

    python benchmarks/bench_throughput.py                 # all models, XLA off and on
    python benchmarks/bench_throughput.py --models vae-mlp --steps 100

Part 1, model throughput: each model trains on batches already in memory (a
repeated `tf.data` of one fixed set of 20 batches), so that the figure is
the model's alone. `fit` runs `--steps` steps per epoch for three epochs; the
figure is the median images/s of epochs 2 and 3 (epoch 1 includes tracing and,
under XLA, compilation). Each model is measured with `jit_compile=False` and
`jit_compile=True` in the same process; the ratio is XLA / no XLA.

Part 2, input pipeline: images/s that tfvae's pipelines deliver when iterated
alone (no model): `tfvae.data.load` (first epoch: reading and decoding; later
epochs: from its cache) and `tfvae.data.EpochData` (what `tfvae.training`
uses, with dynamic binarisation for MNIST). Then the MLP VAE, the fastest
model and so the one most easily starved, trained end to end from each
pipeline against the same model on in-memory batches: a ratio near 1 means the
pipeline keeps up.

Data: binarized MNIST and MNIST through TFDS (`TFDS_DATA_DIR`).
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

MODELS = ("vae-mlp", "vae-conv", "cvae-mlp", "vqvae", "vqvae-ema", "prior")


def _build(kind, seed):
    import tfvae

    if kind == "vae-mlp":
        return tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=seed)
    if kind == "vae-conv":
        return tfvae.VAE.conv((28, 28, 1), latent_dim=20, filters=(32, 64), hidden_units=256, seed=seed)
    if kind == "cvae-mlp":
        return tfvae.ConditionalVAE.mlp((28, 28, 1), latent_dim=20, num_classes=10, hidden_units=(500,), seed=seed)
    if kind in ("vqvae", "vqvae-ema"):
        # examples/train_vqvae.py's default network.
        return tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, hidden_filters=64,
                                residual_filters=32, num_residual_blocks=1,
                                quantizer="ema" if kind == "vqvae-ema" else "vq", seed=seed)
    return tfvae.PixelCNNPrior((7, 7), 128, filters=64, num_layers=6)


def _batches(kind, batch_size, seed):
    """One epoch's worth of real training batches, as in-memory arrays."""
    import numpy as np

    import tfvae

    if kind == "prior":
        # Codes with MNIST-like statistics do not matter for speed: uniform codes.
        codes = np.random.default_rng(seed).integers(0, 128, (batch_size * 20, 7, 7)).astype("int32")
        return (codes,)
    if kind == "cvae-mlp":
        return tfvae.data.load_arrays("mnist", "train", with_labels=True, limit=batch_size * 20)
    name = "binarized_mnist" if kind.startswith("vae") else "mnist"
    return (tfvae.data.load_arrays(name, "train", limit=batch_size * 20),)


def _in_memory(arrays, batch_size):
    import tensorflow as tf

    data = arrays[0] if len(arrays) == 1 else tuple(arrays)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size, drop_remainder=True).repeat()


def _fit_throughput(model, dataset, steps, batch_size):
    """Median images/s of epochs 2 and 3 of `steps` steps each."""
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
        rates.append(steps * batch_size / (time.perf_counter() - start))
    return statistics.median(rates[1:]), rates[0]


def model_throughput(kinds, steps, batch_size, seed):
    import keras

    rows = []
    for kind in kinds:
        arrays = _batches(kind, batch_size, seed)
        row = dict(model=kind)
        for jit in (False, True):
            keras.utils.set_random_seed(seed)
            model = _build(kind, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the "XLA drops the value checks" warning: known here
                model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit)
            rate, first = _fit_throughput(model, _in_memory(arrays, batch_size), steps, batch_size)
            row["xla" if jit else "plain"] = rate
            row["xla_first_epoch" if jit else "plain_first_epoch"] = first
            print(f"  {kind} jit_compile={jit}: {rate:,.0f} images/s (first epoch {first:,.0f})",
                  file=sys.stderr, flush=True)
        row["ratio"] = row["xla"] / row["plain"]
        rows.append(row)
    return rows


def _iterate(dataset):
    """Images/s of one pass over `dataset`, touching every batch."""
    count, start = 0, time.perf_counter()
    for batch in dataset:
        images = batch[0] if isinstance(batch, tuple) else batch
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def pipeline_throughput(batch_size, steps, seed):
    import keras

    import tfvae

    rows = []
    ds = tfvae.data.load("binarized_mnist", "train", batch_size, seed=seed)
    rows.append(dict(pipeline="load('binarized_mnist'), epoch 1 (read, decode, cache)", rate=_iterate(ds)))
    rows.append(dict(pipeline="load('binarized_mnist'), epoch 2 (from cache)", rate=_iterate(ds)))
    epoch_data = tfvae.data.EpochData("mnist", "train", batch_size, seed, binarize="dynamic")
    rows.append(dict(pipeline="EpochData('mnist', binarize='dynamic'), one epoch", rate=_iterate(epoch_data(0))))

    # End to end: the MLP VAE fed by each pipeline against in-memory batches, whole epochs.
    arrays = _batches("vae-mlp", batch_size, seed)
    keras.utils.set_random_seed(seed)
    model = _build("vae-mlp", seed)
    model.compile(keras.optimizers.Adam(1e-3))
    in_memory, _ = _fit_throughput(model, _in_memory(arrays, batch_size), steps, batch_size)
    end_to_end = {}
    for name, make in (("load", lambda epoch: ds), ("EpochData", epoch_data)):
        rates = []
        images = 50_000 if name == "load" else len(epoch_data)
        for epoch in range(3):
            data = make(epoch)
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            rates.append(images / (time.perf_counter() - start))
        end_to_end[name] = statistics.median(rates[1:])
    return rows, in_memory, end_to_end


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--steps", type=int, default=150, help="steps per timed epoch")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    print(f"bench_throughput: batch {args.batch_size}, {args.steps} steps per timed epoch, {os.cpu_count()} CPUs")
    rows = model_throughput(args.models, args.steps, args.batch_size, args.seed)
    print("\ntraining throughput on in-memory batches (median of epochs 2-3):")
    print("| model | images/s, jit_compile=False | images/s, jit_compile=True | XLA / no XLA |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['plain']:,.0f} | {r['xla']:,.0f} | {r['ratio']:.2f}x |")
    results = dict(models=rows)
    if not args.skip_pipeline:
        pipes, in_memory, end_to_end = pipeline_throughput(args.batch_size, args.steps, args.seed)
        print("\ninput pipelines iterated alone (no model):")
        print("| pipeline | images/s | against the MLP VAE's training images/s |")
        print("|---|---|---|")
        for r in pipes:
            print(f"| {r['pipeline']} | {r['rate']:,.0f} | {r['rate'] / in_memory:.1f}x |")
        print("\nMLP VAE (jit_compile=False) training images/s, whole epochs (median of epochs 2-3):")
        print("| fed by | images/s | against in-memory batches |")
        print("|---|---|---|")
        print(f"| in-memory batches | {in_memory:,.0f} | 1.00x |")
        for name, rate in end_to_end.items():
            print(f"| {name} pipeline | {rate:,.0f} | {rate / in_memory:.2f}x |")
        results.update(pipelines=pipes, in_memory=in_memory, end_to_end=end_to_end)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
