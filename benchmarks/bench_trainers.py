"""tfvae's `fit` against hand-written trainers of the same networks, what input checks cost, and the floor.

    python benchmarks/bench_trainers.py                       # MLP VAE, keras.io's conv VAE and VQ-VAE
    python benchmarks/bench_trainers.py --models vae-mlp --rounds 15

For each model, the same networks (weights copied) are trained four ways on
the same in-memory batches (batch 128, real MNIST):

* **tfvae**: the tfvae model, `compile(Adam(1e-3))` with tfvae's defaults
  (`steps_per_execution=1`, Keras' default; `--steps-per-execution 16` runs
  16 steps per call into TensorFlow), `fit`;
* **tfvae, no checks**: the same with `validate_inputs=False` (what the input
  checks cost);
* **keras.io style**: a `keras.Model` subclass with a custom `train_step`, as the
  keras.io generative examples write it (`keras.metrics.Mean` trackers of the
  batch losses, `compile(Adam(1e-3))` with Keras' defaults), `fit`;
* **tf.function loop**: a plain loop, one `tf.function` training step per batch
  over a `tf.data` iterator, nothing else;
* **networks only**: the same loop with the objective cut down to what no
  trainer can leave out: the networks' forward and backward passes and Adam's
  update, the loss replaced by the mean of the decoder's output (VQ-VAE: plus
  the quantizer's codebook and commitment terms, so the codebook is trained
  too). It is not a trainer of the objective; it bounds what any trainer of
  these networks could reach: "networks only / keras.io style" is the most a
  trainer could gain on the keras.io-style model by making everything but the
  networks free.

The first four minimise the same objective (tfvae's: the negative ELBO with a
Bernoulli likelihood for the VAEs; squared error over the data variance plus
codebook and commitment terms for the VQ-VAE), so the comparison is of
training machinery, not of losses. Before timing, one gradient of each
trainer on the same batch and noise is compared with tfvae's (`fit` with
SGD(1), whose update is minus the gradient). Then all five run in turns,
`--rounds` rounds of `--steps` steps each after a warm-up round, in a shuffled
order per round, so that a slow spell of the machine hits all (every round's
time is printed to stderr); the table gives images/s (median and best of the
rounds), tfvae's ratio to the others and the networks-only runner's to the
keras.io style: the median of the ratios within a round (the two ran a few
seconds apart) and the ratio of the bests.

The floor: the floating-point operations of one training step (forward and
backward pass of the objective, counted by TensorFlow's profiler on the traced
graph; the optimizer's few element-wise operations per weight left out)
divided by the best rate of a 2048x2048 matrix product measured in the same
process. No trainer of the same arithmetic can run a step faster; "of floor"
is the floor's time over the trainer's best time.

keras.io's networks: the conv VAE of keras.io/examples/generative/vae (two
stride-2 convolutions of 32 and 64 filters, 16 dense units; mirror-image
transposed convolutions, logits out) with 20 latents, and the VQ-VAE of
keras.io/examples/generative/vq_vae (128 codes of size 16).
"""

import argparse
import os
import random
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

MODELS = ("vae-mlp", "vae-conv", "vqvae")
TRAINERS = ("tfvae", "tfvae, no checks", "keras.io style", "tf.function loop", "networks only")


def keras_io_conv_vae_networks(latent_dim=20):
    import keras
    from keras import layers

    x_in = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x_in)
    h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Dense(16, activation="relu")(layers.Flatten()(h))
    encoder = keras.Model(x_in, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)], name="encoder")
    z_in = keras.Input((latent_dim,))
    h = layers.Reshape((7, 7, 64))(layers.Dense(7 * 7 * 64, activation="relu")(z_in))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    decoder = keras.Model(z_in, layers.Conv2DTranspose(1, 3, padding="same")(h), name="decoder")
    return encoder, decoder


def build_tfvae(kind, seed, validate_inputs=True):
    import keras
    from bench_vqvae import keras_io_vqvae

    import tfvae

    keras.utils.set_random_seed(seed)
    if kind == "vae-mlp":
        return tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,), seed=seed,
                             validate_inputs=validate_inputs)
    if kind == "vae-conv":
        encoder, decoder = keras_io_conv_vae_networks()
        return tfvae.VAE(encoder, decoder, seed=seed, validate_inputs=validate_inputs)
    model = keras_io_vqvae(variance=0.1)
    return tfvae.VQVAE(model.encoder, model.decoder, model.quantizer, data_variance=0.1, value_range="unit",
                       validate_inputs=validate_inputs)


def copy_networks(model):
    """The model's networks cloned with their weights: `(encoder, decoder, quantizer or None)`."""
    import keras

    nets = []
    for net in (model.encoder, model.decoder):
        clone = keras.models.clone_model(net)
        clone.set_weights(net.get_weights())
        nets.append(clone)
    quantizer = getattr(model, "quantizer", None)
    if quantizer is not None:
        clone = type(quantizer).from_config(quantizer.get_config())
        clone.build(model.encoder.output.shape)
        clone.set_weights(quantizer.get_weights())
        nets.append(clone)
    else:
        nets.append(None)
    return nets


def objective(kind, nets, generator, x):
    """tfvae's per-example training objective, written out: `(loss, parts)`, each `(batch,)`."""
    import keras
    from keras import ops

    from tfvae import losses

    encoder, decoder, quantizer = nets
    if kind.startswith("vae"):
        mean, log_var = encoder(x, training=True)
        z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=generator)
        reconstruction = -losses.bernoulli_log_likelihood(x, decoder(z, training=True))
        kl = losses.gaussian_kl(mean, log_var)
        return reconstruction + kl, {"reconstruction": reconstruction, "kl": kl}
    details = quantizer.quantize_details(encoder(x, training=True), training=True)
    reconstruction = losses.mean_squared_error(x, decoder(details["quantized"], training=True)) / 0.1
    return reconstruction + details["loss"], {"reconstruction": reconstruction, "vq_loss": details["loss"]}


def networks_only(kind, nets, generator, x):
    """The networks' share of a step: forward through encoder (quantizer) and decoder, a stand-in loss."""
    from keras import ops

    encoder, decoder, quantizer = nets
    if kind.startswith("vae"):
        mean, log_var = encoder(x, training=True)
        return ops.mean(decoder(mean + log_var, training=True))  # both heads get a gradient, no sampling
    details = quantizer.quantize_details(encoder(x, training=True), training=True)
    return ops.mean(decoder(details["quantized"], training=True)) + ops.mean(details["loss"])


def keras_io_style(kind, nets, seed):
    """A keras.io-style model: custom train_step, Mean trackers of batch means."""
    import keras
    import tensorflow as tf
    from keras import ops

    class HandWritten(keras.Model):
        def __init__(self):
            super().__init__()
            self.nets = nets
            self.generator = keras.random.SeedGenerator(seed)
            parts = ("reconstruction", "kl") if kind.startswith("vae") else ("reconstruction", "vq_loss")
            self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", *parts)}

        @property
        def metrics(self):
            return list(self.trackers.values())

        def train_step(self, data):
            with tf.GradientTape() as tape:
                loss, parts = objective(kind, self.nets, self.generator, data)
                total = ops.mean(loss)
            grads = tape.gradient(total, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.trackers["loss"].update_state(total)
            for name, value in parts.items():
                self.trackers[name].update_state(ops.mean(value))
            return {name: m.result() for name, m in self.trackers.items()}

    model = HandWritten()
    model.compile(keras.optimizers.Adam(1e-3))
    return model


class Loop:
    """The plain loop: one tf.function step per batch (of tfvae's objective, or of `loss`)."""

    def __init__(self, kind, nets, seed, loss=None):
        import keras
        import tensorflow as tf

        self.nets = [n for n in nets if n is not None]
        self.variables = [v for n in self.nets for v in n.trainable_variables]
        self.generator = keras.random.SeedGenerator(seed)
        self.optimizer = keras.optimizers.Adam(1e-3)
        self.optimizer.build(self.variables)

        @tf.function
        def step(x):
            with tf.GradientTape() as tape:
                if loss is None:
                    value = tf.reduce_mean(objective(kind, nets, self.generator, x)[0])
                else:
                    value = loss(kind, nets, self.generator, x)
            self.optimizer.apply_gradients(zip(tape.gradient(value, self.variables), self.variables))
            return value

        self.step = step

    def train(self, dataset, steps):
        for x in dataset.take(steps):
            self.step(x)


def step_flops(kind, model, batch_size):
    """Floating-point operations of one training step's forward and backward pass (TensorFlow's profiler)."""
    import keras
    import tensorflow as tf

    nets = copy_networks(model)
    variables = [v for n in nets if n is not None for v in n.trainable_variables]
    generator = keras.random.SeedGenerator(0)

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(objective(kind, nets, generator, x)[0])
        return tape.gradient(loss, variables)

    graph = gradient.get_concrete_function(tf.TensorSpec((batch_size, *model.image_shape), tf.float32)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def matmul_rate(n=2048, repeats=10, rounds=5):
    """Best FLOP/s of an n x n float32 matrix product on this device."""
    import tensorflow as tf

    a, b = tf.random.normal((n, n), seed=1), tf.random.normal((n, n), seed=2)
    product = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))  # the sum forces the result
    product()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            product().numpy()
        best = min(best, (time.perf_counter() - start) / repeats)
    return 2 * n**3 / best


def check_gradients(kind, model, seed, x):
    """Largest relative difference between tfvae's gradient (`fit` with SGD(1)) and the written-out one."""
    import keras
    import numpy as np
    import tensorflow as tf

    reference = build_tfvae(kind, seed)
    reference.set_weights(model.get_weights())
    nets = copy_networks(reference)
    generator = keras.random.SeedGenerator(seed)
    variables = [v for n in nets if n is not None for v in n.trainable_variables]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(objective(kind, nets, generator, tf.constant(x))[0])
    grads = tape.gradient(loss, variables)
    before = [v.numpy() for v in reference.trainable_variables]
    reference.compile(keras.optimizers.SGD(1.0), jit_compile=False)
    reference.train_on_batch(x)
    fit_grads = [b - v.numpy() for b, v in zip(before, reference.trainable_variables)]
    assert len(fit_grads) == len(grads), (len(fit_grads), len(grads))
    worst = 0.0
    for a, b in zip(fit_grads, grads):
        b = tf.convert_to_tensor(b).numpy()
        worst = max(worst, float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)))
    return worst


def compare(kind, steps, rounds, batch_size, seed, compile_args):
    import keras
    import tensorflow as tf

    import tfvae

    name = "binarized_mnist" if kind.startswith("vae") else "mnist"
    x = tfvae.data.load_arrays(name, "train", limit=batch_size * 40).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size, drop_remainder=True).repeat().prefetch(2)

    model = build_tfvae(kind, seed)
    unchecked = build_tfvae(kind, seed, validate_inputs=False)
    unchecked.set_weights(model.get_weights())
    worst = check_gradients(kind, model, seed, x[:batch_size])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.compile(keras.optimizers.Adam(1e-3), **compile_args)
        unchecked.compile(keras.optimizers.Adam(1e-3), **compile_args)
    hand = keras_io_style(kind, copy_networks(model), seed)
    loop = Loop(kind, copy_networks(model), seed)
    bare = Loop(kind, copy_networks(model), seed, loss=networks_only)

    def fit(m):
        return lambda: m.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)

    run = {"tfvae": fit(model), "tfvae, no checks": fit(unchecked), "keras.io style": fit(hand),
           "tf.function loop": lambda: loop.train(dataset, steps), "networks only": lambda: bare.train(dataset, steps)}
    for fn in run.values():
        fn()  # warm-up: tracing
    rates = {t: [] for t in TRAINERS}
    order = list(run)
    shuffle = random.Random(seed).shuffle
    for _ in range(rounds):
        shuffle(order)
        for trainer in order:
            start = time.perf_counter()
            run[trainer]()
            rates[trainer].append(steps * batch_size / (time.perf_counter() - start))
    print(f"  {kind}, seconds per round of {steps} steps, in the order run:", file=sys.stderr)
    for trainer in TRAINERS:
        seconds = " ".join(f"{steps * batch_size / r:.3f}" for r in rates[trainer])
        print(f"    {trainer:>17}: {seconds}", file=sys.stderr, flush=True)
    flops = step_flops(kind, model, batch_size)
    return dict(model=kind, worst=worst, rates=rates, steps_per_execution=model.steps_per_execution,
                jit_compile=model.jit_compile, flops=flops)


def ratio(rates, a, b):
    """`a`'s speed over `b`'s: the median of the per-round ratios (the ratio of the bests)."""
    per_round = statistics.median(x / y for x, y in zip(rates[a], rates[b]))
    return f"{per_round:.2f}x ({max(rates[a]) / max(rates[b]):.2f}x)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    p.add_argument("--steps", type=int, default=96, help="steps per round")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps-per-execution", type=int, help="tfvae's compile setting (default: the model's)")
    p.add_argument("--jit-compile", choices=("true", "false"), help="tfvae's compile setting (default: the model's)")
    args = p.parse_args(argv)
    compile_args = {}
    if args.steps_per_execution is not None:
        compile_args["steps_per_execution"] = args.steps_per_execution
    if args.jit_compile is not None:
        compile_args["jit_compile"] = args.jit_compile == "true"

    device = device_description()
    print(f"bench_trainers: batch {args.batch_size}, {args.rounds} rounds of {args.steps} steps per trainer, "
          f"in shuffled turns after a warm-up round; device {device}")
    rate = matmul_rate()
    rows = []
    for kind in args.models:
        rows.append(compare(kind, args.steps, args.rounds, args.batch_size, args.seed, compile_args))
        print(f"  {kind} done", file=sys.stderr, flush=True)
    rate = max(rate, matmul_rate())  # the best of before and after
    print(f"\nfloor: a 2048x2048 matrix product runs at {rate / 1e9:.1f} GFLOP/s at best here")
    print("\nimages/s, median (best) of the rounds; each ratio is the median of the per-round ratios "
          "(ratio of the bests):")
    print("| model | tfvae's compile settings | gradient vs tfvae's (max rel. diff.) | "
          + " | ".join(TRAINERS) + " | tfvae / no checks | tfvae / keras.io style | tfvae / tf.function loop "
          "| networks only / keras.io style (the most any trainer could gain) |")
    print("|---|---|---|" + "---|" * (len(TRAINERS) + 4))
    for r in rows:
        med = {t: statistics.median(v) for t, v in r["rates"].items()}
        best = {t: max(v) for t, v in r["rates"].items()}
        cells = " | ".join(f"{med[t]:,.0f} ({best[t]:,.0f})" for t in TRAINERS)
        ratios = " | ".join(ratio(r["rates"], a, b) for a, b in (
            ("tfvae", "tfvae, no checks"), ("tfvae", "keras.io style"), ("tfvae", "tf.function loop"),
            ("networks only", "keras.io style")))
        print(f"| {r['model']} | steps_per_execution={r['steps_per_execution']}, jit_compile={r['jit_compile']} "
              f"| {r['worst']:.1e} | {cells} | {ratios} |")
    print("\nthe floor: one step's forward and backward FLOPs at the matrix product's rate; each trainer's best "
          "step time and its share of the floor:")
    print("| model | GFLOP per step | floor, ms per step | " + " | ".join(TRAINERS) + " |")
    print("|---|---|---|" + "---|" * len(TRAINERS))
    for r in rows:
        floor = r["flops"] / rate
        best_step = {t: args.batch_size / max(v) for t, v in r["rates"].items()}  # seconds
        cells = " | ".join(f"{best_step[t] * 1e3:.2f} ms ({floor / best_step[t]:.0%})" for t in TRAINERS)
        print(f"| {r['model']} | {r['flops'] / 1e9:.3f} | {floor * 1e3:.2f} | {cells} |")


if __name__ == "__main__":
    main()
