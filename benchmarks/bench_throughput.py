"""Training throughput of every model with and without XLA, and the input pipelines against it.

    python benchmarks/bench_throughput.py                 # all models, XLA off and on
    python benchmarks/bench_throughput.py --models vae-mlp prior --rounds 2 --skip-pipeline

Part 1, model throughput: each model trains on batches already in memory (a
repeated `tf.data` of one fixed set of 20 real batches), so that the figure is
the model's alone. The model is built twice, compiled with
`jit_compile=False` and with `jit_compile=True`; after a warm-up epoch each
(tracing, XLA compilation) the two train in turns, `--rounds` epochs each of
about `--seconds` (the same number of steps for both), so that a slow spell
of this shared machine hits both. Figures are medians; the ratio is XLA / no XLA.

Part 2, input pipeline: images/s that tfvae's pipelines deliver iterated
alone: `tfvae.data.load` (first epoch: reading and decoding; later epochs:
from its cache) and `tfvae.data.EpochData` (what `tfvae.training` uses).
Then the MLP VAE, the fastest model and so the one most easily starved,
trained on whole epochs fed by each pipeline, in turns with the same images as
cached float batches (no input work at all): a ratio near 1 means the pipeline
keeps up.

Part 3, against hand-written trainers (`bench_trainers.py`, run from here
too): tfvae's `fit` against a keras.io-style custom `train_step` model and a
plain `tf.function` loop on the same networks (weights copied, gradients
compared), and with its input checks off.

Data: binarized MNIST and MNIST through TFDS (`TFDS_DATA_DIR`). Prints the
device it ran on.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

MODELS = ("vae-mlp", "vae-conv", "cvae-mlp", "vqvae", "vqvae-ema", "prior", "dae-mlp", "aae-mlp")


def _build(kind, seed):
    import tfvae

    if kind == "vae-mlp":
        return tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=seed)
    if kind == "vae-conv":
        return tfvae.VAE.conv((28, 28, 1), latent_dim=20, filters=(32, 64), hidden_units=256, seed=seed)
    if kind == "cvae-mlp":
        return tfvae.ConditionalVAE.mlp((28, 28, 1), latent_dim=20, num_classes=10, hidden_units=(500,), seed=seed)
    if kind == "dae-mlp":
        return tfvae.Autoencoder.mlp((28, 28, 1), latent_dim=32, hidden_units=(512,), noise_stddev=0.5, seed=seed)
    if kind == "aae-mlp":
        # examples/adversarial_autoencoder.py's networks.
        return tfvae.AdversarialAutoencoder.mlp((28, 28, 1), latent_dim=8, hidden_units=(512,),
                                                discriminator_units=(256, 256), seed=seed)
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


def _epoch_rate(model, dataset, steps, batch_size):
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def _whole(steps, steps_per_execution):
    """`steps` rounded up to whole executions."""
    return -(-steps // steps_per_execution) * steps_per_execution


def _compiled(kind, seed, jit, steps_per_execution=1):
    import keras

    keras.utils.set_random_seed(seed)
    model = _build(kind, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit, steps_per_execution=steps_per_execution)
    return model


def model_throughput(kinds, seconds, rounds, batch_size, seed, steps_per_execution=1):
    """Per model: images/s without and with XLA, epochs of the two alternating.

    After a warm-up epoch each (tracing, XLA compilation), the two models train
    in turns for `rounds` epochs each, so that a slow spell of the machine hits
    both; an epoch has as many steps as the model without XLA runs in about
    `seconds`. The figures are the medians of the rounds.
    """
    rows = []
    for kind in kinds:
        arrays = _batches(kind, batch_size, seed)
        models = {}
        for jit in (False, True):
            model, dataset = _compiled(kind, seed, jit, steps_per_execution), _in_memory(arrays, batch_size)
            _epoch_rate(model, dataset, _whole(5, steps_per_execution), batch_size)  # tracing, compilation
            models[jit] = (model, dataset)
        calibration = _epoch_rate(*models[False], _whole(20, steps_per_execution), batch_size)
        # Whole executions: on endless data Keras runs each execution to its end, past steps_per_epoch.
        steps = _whole(int(min(400, max(20, seconds * calibration / batch_size))), steps_per_execution)
        rates = {False: [], True: []}
        for _ in range(rounds):
            for jit in (False, True):
                rates[jit].append(_epoch_rate(*models[jit], steps, batch_size))
        row = dict(model=kind, steps=steps, plain=statistics.median(rates[False]), xla=statistics.median(rates[True]),
                   plain_rounds=rates[False], xla_rounds=rates[True])
        row["ratio"] = row["xla"] / row["plain"]
        print(f"  {kind}: {steps} steps per epoch; without XLA {[round(r) for r in rates[False]]}, "
              f"with XLA {[round(r) for r in rates[True]]} images/s", file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def _thousands(rates):
    return " ".join(f"{r / 1000:.1f}" for r in rates)


def _iterate(dataset):
    """Images/s of one pass over `dataset`, touching every batch."""
    count, start = 0, time.perf_counter()
    for batch in dataset:
        images = batch[0] if isinstance(batch, tuple) else batch
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def pipeline_throughput(batch_size, rounds, seed):
    import tensorflow as tf

    import tfvae

    rows = []
    ds = tfvae.data.load("binarized_mnist", "train", batch_size, seed=seed)
    rows.append(dict(pipeline="load('binarized_mnist'), epoch 1 (read, decode, cache)", rate=_iterate(ds)))
    rows.append(dict(pipeline="load('binarized_mnist'), epoch 2 (from cache)", rate=_iterate(ds)))
    epoch_data = tfvae.data.EpochData("binarized_mnist", "train", batch_size, seed)
    rows.append(dict(pipeline="EpochData('binarized_mnist'), one epoch", rate=_iterate(epoch_data(0))))
    mnist = tfvae.data.EpochData("mnist", "train", batch_size, seed, binarize="dynamic")
    rows.append(dict(pipeline="EpochData('mnist', binarize='dynamic'), one epoch", rate=_iterate(mnist(0))))

    # End to end: the MLP VAE trained on whole epochs of binarized MNIST's 50,000 training
    # images, fed by each pipeline or by the same images as cached float batches (no input
    # work at all), in turns.
    x = tfvae.data.load_arrays("binarized_mnist", "train")
    cached = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).cache()
    feeds = {"cached float batches (no input work)": lambda epoch: cached,
             "load pipeline": lambda epoch: ds,
             "EpochData pipeline": epoch_data}
    model = _compiled("vae-mlp", seed, False)
    for make in feeds.values():
        model.fit(make(0), epochs=1, shuffle=False, verbose=0)  # warm-up, and fills the caches
    rates = {name: [] for name in feeds}
    for epoch in range(1, rounds + 1):
        for name, make in feeds.items():
            data = make(epoch)
            start = time.perf_counter()
            model.fit(data, epochs=1, shuffle=False, verbose=0)
            rates[name].append(len(x) / (time.perf_counter() - start))
    return rows, {name: dict(median=statistics.median(r), epochs=r) for name, r in rates.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--seconds", type=float, default=5.0, help="about how long one timed epoch takes")
    p.add_argument("--rounds", type=int, default=5, help="timed epochs per variant, taken in turns")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps-per-execution", type=int, default=1,
                   help="compile(steps_per_execution=...) of part 1's models (Keras' default: 1)")
    p.add_argument("--skip-pipeline", action="store_true")
    p.add_argument("--skip-models", action="store_true")
    p.add_argument("--skip-trainers", action="store_true", help="skip part 3 (bench_trainers.py)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    device = device_description()
    print(f"bench_throughput: batch {args.batch_size}, {args.steps_per_execution} step(s) per execution, "
          f"{args.rounds} timed epochs per variant of about "
          f"{args.seconds:g} s each, taken in turns; device {device}")
    results = {}
    if not args.skip_models:
        rows = model_throughput(args.models, args.seconds, args.rounds, args.batch_size, args.seed,
                                args.steps_per_execution)
        print(f"\ntraining throughput on in-memory batches (median of {args.rounds} epochs; every epoch in "
              "the last two columns, thousands of images/s, in the order run):")
        print("| model | images/s, jit_compile=False | images/s, jit_compile=True | XLA / no XLA "
              "| epochs without XLA | epochs with XLA |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['plain']:,.0f} | {r['xla']:,.0f} | {r['ratio']:.2f}x "
                  f"| {_thousands(r['plain_rounds'])} | {_thousands(r['xla_rounds'])} |")
        results["models"] = rows
    if not args.skip_pipeline:
        pipes, end_to_end = pipeline_throughput(args.batch_size, args.rounds, args.seed)
        baseline = next(iter(end_to_end.values()))["median"]
        print("\ninput pipelines iterated alone (no model), batch of", args.batch_size)
        print("| pipeline | images/s | against the MLP VAE's training images/s |")
        print("|---|---|---|")
        for r in pipes:
            print(f"| {r['pipeline']} | {r['rate']:,.0f} | {r['rate'] / baseline:.1f}x |")
        print(f"\nMLP VAE (jit_compile=False), whole epochs of 50,000 images (median of {args.rounds}, in turns):")
        print("| fed by | training images/s | against cached float batches | every epoch (thousands) |")
        print("|---|---|---|---|")
        for name, r in end_to_end.items():
            print(f"| {name} | {r['median']:,.0f} | {r['median'] / baseline:.2f}x | {_thousands(r['epochs'])} |")
        results.update(pipelines=pipes, end_to_end=end_to_end)
    if not args.skip_trainers:
        import bench_trainers

        print("\npart 3, against hand-written trainers:", flush=True)
        bench_trainers.main(["--batch-size", str(args.batch_size), "--seed", str(args.seed)])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
