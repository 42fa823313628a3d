"""Test log-likelihood of binarised MNIST within a wall-clock budget, beside the published figures.

    python benchmarks/bench_likelihood.py --budget-minutes 60                  # every row, both binarisations
    python benchmarks/bench_likelihood.py --budget-minutes 2 --eval-k 100 --eval-examples 1000   # a quick look

Each row trains one VAE (the IWAE paper's one-stochastic-layer MLP: two tanh
layers of 200 units, 50 latent dimensions, Bernoulli likelihood; Adam,
batch 100) until its budget of minutes is spent, then reports
-log p(x) estimated by the importance-weighted bound with k = `--eval-k`
samples (5,000 by default) over the first `--eval-examples` test images
(10,000: all), in nats; lower is better, and it is an upper bound on the true
-log p(x).

Rows: the plain VAE (ELBO), + an inverse autoregressive flow posterior
(2 steps), + the VampPrior (500 pseudo-inputs; the KL warmed up over 100
epochs as in its paper: without warm-up its posterior collapses onto the prior
in the first epoch), the IWAE objective (k = 5, DReG gradients), the IWAE
paper's two stochastic layers (100 and 50 latents; tanh layers of 200 units
between x and z1, of 100 between z1 and z2) with the ELBO and with the IWAE
objective (the ELBO one with the KL warmed up over 100 epochs too), and the
IWAE objective (k = 5) with the flow posterior. Each row also counts its active
units (Burda et al.'s criterion: a latent unit u is active when
Cov_x(E_q[u | x]) > 0.01 over the test images; for z2, E_q[z2 | x] averages
q(z2 | z1)'s mean over 20 draws of z1; for a flow, the units of its Gaussian
base). Adam's
learning rate falls from 1e-3 to 1e-4 geometrically over each row's budget.
Dynamic binarisation draws every training image afresh each
epoch and binarises the test set once (seed 0); static binarisation is
Larochelle's `binarized_mnist`. Published (IWAE, Burda et al., 2016, table 1
and appendix D; VampPrior, Tomczak & Welling, 2018; IAF, Kingma et al., 2016):
dynamic VAE 86.76, IWAE k=50 two layers 82.90, IAF-VAE 79.10; static VAE 88.71,
IWAE k=50 87.10, VampPrior one layer 85.57.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402

ROWS = {
    "plain": ("VAE (ELBO)", {}),
    "iaf": ("VAE + IAF posterior (2 steps)", {"posterior_flow": 2, "posterior_flow_units": (200,)}),
    "vamp": ("VAE + VampPrior (500 pseudo-inputs, KL warm-up)", {"prior": "vamp", "num_prior_components": 500,
                                                                  "kl_warmup_epochs": 100}),
    "iwae": ("IWAE objective, k = 5, DReG", {"num_importance_samples": 5, "gradient_estimator": "dreg"}),
    # Without the warm-up the two-layer ELBO stalls early (95.51 dynamic and 102.36 static in an hour, at ee5ee1e);
    # Sonderby et al. (2016) warm up deep VAEs for this reason.
    "two": ("two stochastic layers (100 + 50), KL warm-up", {"latent_dim": 100, "second_latent_dim": 50,
                                                            "second_hidden_units": (100, 100),
                                                            "kl_warmup_epochs": 100}),
    "two_iwae": ("two stochastic layers, IWAE objective k = 5", {
        "latent_dim": 100, "second_latent_dim": 50, "second_hidden_units": (100, 100),
        "num_importance_samples": 5}),
    "iwae_iaf": ("IWAE objective k = 5 + IAF posterior (2 steps)", {
        "num_importance_samples": 5, "posterior_flow": 2, "posterior_flow_units": (200,)}),
}
PUBLISHED = {
    "dynamic": [("VAE, one stochastic layer (IWAE paper)", 86.76), ("IWAE k = 50, two layers", 82.90),
                ("IAF-VAE", 79.10)],
    "static": [("VAE (IWAE paper, appendix D)", 88.71), ("IWAE k = 50 (appendix D)", 87.10),
               ("VampPrior, one layer", 85.57)],
}


# The IWAE paper's architectures, counted from its description (dense layers with biases; each Gaussian layer
# outputs a mean and a log-variance): 784-200-200-(50 x 2) and 50-200-200-784; two layers add 100-100-100-(50 x 2)
# above and 50-100-100-(100 x 2) below, with z1 of 100 dimensions.
def _dense(*widths):
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


_ONE = _dense(784, 200, 200, 100) + _dense(50, 200, 200, 784)
_TWO = _dense(784, 200, 200, 200) + _dense(100, 100, 100, 100) + _dense(50, 100, 100, 200) + _dense(100, 200, 200, 784)
# The flow and VampPrior rows extend the one-layer VAE: their ratio says how much they add to it.
PUBLISHED_PARAMS = {"plain": _ONE, "iaf": _ONE, "vamp": _ONE, "iwae": _ONE, "two": _TWO, "two_iwae": _TWO,
                    "iwae_iaf": _ONE}
# Adam's learning rate falls geometrically from the first to the last over each row's budget (the IWAE paper's
# schedule ends at a tenth of where it starts, too).
LEARNING_RATE = (1e-3, 1e-4)
TARGETS = {"dynamic": (86.76, 82.90), "static": (87.10,)}


def _data(binarization, seed):
    import numpy as np
    import tensorflow as tf

    import tfvae

    if binarization == "static":
        train = tfvae.data.load("binarized_mnist", "train", 100, seed=seed, drop_remainder=True)
        test = tfvae.data.load_arrays("binarized_mnist", "test")
    else:
        train = tfvae.data.load("mnist", "train", 100, binarize="dynamic", seed=seed, drop_remainder=True)
        grey = tfvae.data.load_arrays("mnist", "test")
        test = (np.random.default_rng(0).random(grey.shape) < grey).astype(np.float32)
    return train.prefetch(tf.data.AUTOTUNE), test


def _active_units(vae, x, draws=20):
    """Burda et al.'s active units of q(z | x), as `(active, size)` per stochastic layer: a latent dimension u is
    active when Cov_x(E_q[u | x]) > 0.01."""
    import numpy as np

    mean, log_var = map(np.asarray, vae.encode(x))
    counts = [(int((mean.var(axis=0) > 0.01).sum()), vae.latent_dim)]
    if vae.second_latent_dim is not None:
        rng = np.random.default_rng(0)
        top = np.zeros((len(x), vae.second_latent_dim))
        for _ in range(draws):
            z1 = (mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)).astype("float32")
            top += np.asarray(vae.second_inference(z1))[:, :vae.second_latent_dim] / draws
        counts.append((int((top.var(axis=0) > 0.01).sum()), vae.second_latent_dim))
    return counts


def _row(key, binarization, minutes, eval_k, eval_examples, seed, curve_every):
    import keras
    import numpy as np

    import tfvae

    name, kwargs = ROWS[key]
    train, test = _data(binarization, seed)
    steps_per_epoch = (50_000 if binarization == "static" else 60_000) // 100
    kwargs = {"latent_dim": 50, "hidden_units": (200, 200), **kwargs}
    if "kl_warmup_epochs" in kwargs:
        kwargs["kl_warmup_steps"] = kwargs.pop("kl_warmup_epochs") * steps_per_epoch
    keras.utils.set_random_seed(seed)
    vae = tfvae.VAE.mlp((28, 28, 1), likelihood="bernoulli", seed=seed, **kwargs)
    vae.compile(keras.optimizers.Adam(LEARNING_RATE[0]))
    start, curve, epochs = time.perf_counter(), [], 0

    class Budget(keras.callbacks.Callback):
        """Stops at the budget; the learning rate decays geometrically with the time spent."""

        def on_train_batch_end(self, batch, logs=None):
            spent = (time.perf_counter() - start) / (minutes * 60)
            if spent >= 1:
                self.model.stop_training = True
            elif batch % 20 == 0:
                first, last = LEARNING_RATE
                self.model.optimizer.learning_rate.assign(first * (last / first) ** spent)

    while time.perf_counter() - start < minutes * 60:
        vae.fit(train, epochs=1, verbose=0, shuffle=False, callbacks=[Budget()])  # load() shuffles
        epochs += 1
        if curve_every and epochs % curve_every == 0 and time.perf_counter() - start < minutes * 60:
            curve.append((time.perf_counter() - start, float(-vae.log_likelihood(test[:1000], num_samples=100,
                                                                                 seed=0).mean())))
    seconds = time.perf_counter() - start
    began = time.perf_counter()
    nll = -vae.log_likelihood(test[:eval_examples], num_samples=eval_k, seed=0)
    epochs = round(int(vae.optimizer.iterations.numpy()) / steps_per_epoch, 2)
    eval_seconds = time.perf_counter() - began
    return {"name": name, "params": vae.count_params(), "epochs": epochs, "seconds": seconds, "nll": float(nll.mean()),
            "se": float(nll.std() / np.sqrt(len(nll))), "eval_seconds": eval_seconds, "curve": curve,
            "published_params": PUBLISHED_PARAMS[key], "active": _active_units(vae, test[:eval_examples])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-minutes", type=float, default=60.0, help="training time per row")
    p.add_argument("--binarization", choices=["dynamic", "static", "both"], default="both")
    p.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    p.add_argument("--eval-k", type=int, default=5000)
    p.add_argument("--eval-examples", type=int, default=10_000)
    p.add_argument("--curve-every", type=int, default=0, help="every N epochs, the NLL (k = 100, 1,000 images)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    import keras
    import tensorflow as tf

    print(f"# binarised MNIST on {device_description()}, tensorflow {tf.__version__}, keras {keras.__version__}; "
          f"{a.budget_minutes:g} min per row; IW bound with k = {a.eval_k} on {a.eval_examples} test images",
          flush=True)
    for binarization in (["dynamic", "static"] if a.binarization == "both" else [a.binarization]):
        rows = []
        for key in a.rows:
            rows.append(_row(key, binarization, a.budget_minutes, a.eval_k, a.eval_examples, a.seed, a.curve_every))
            r = rows[-1]
            print(f"{binarization} {r['name']}: {r['nll']:.2f} +- {r['se']:.2f} nats after {r['epochs']} epochs "
                  f"({r['seconds'] / 60:.1f} min; evaluation {r['eval_seconds'] / 60:.1f} min); active units "
                  + " and ".join(f"{a} of {d}" for a, d in r["active"]), flush=True)
            for seconds, nll in r["curve"]:
                print(f"    {seconds / 60:6.1f} min  {nll:.2f} (k = 100, 1,000 images)")
        print(f"\n**{binarization} binarisation**\n")
        targets = TARGETS[binarization]
        print("| model | parameters (paper's) | epochs | training | -log p(x), nats | "
              + " | ".join(f"vs {t:.2f}" for t in targets) + " |")
        print("|---|---|---|---|---|" + "---|" * len(targets))
        for r in rows:
            ratio = f"{r['published_params']:,}; {r['params'] / r['published_params']:.2f}x"
            print(f"| {r['name']} | {r['params']:,} ({ratio}) | {r['epochs']} | {r['seconds'] / 60:.1f} min | "
                  f"{r['nll']:.2f} (se {r['se']:.2f}) | " + " | ".join(f"{r['nll'] - t:+.2f}" for t in targets) + " |")
        for name, value in PUBLISHED[binarization]:
            print(f"| {name} (published) | | | | {value:.2f} |" + " |" * len(targets))
        print()


if __name__ == "__main__":
    main()
