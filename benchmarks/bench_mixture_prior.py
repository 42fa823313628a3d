"""The mixture prior's log-density: tfvae's two float64 matmuls against the direct broadcast, speed and accuracy.

    python benchmarks/bench_mixture_prior.py                       # K = 500, D = 50, 5,000 latents (a minute)
    python benchmarks/bench_mixture_prior.py --components 50 --latents 100

log p(z) of a mixture of K diagonal Gaussians in D dimensions at N latents is
what a VampPrior costs at every training step (N = the batch) and at every
chunk of an importance-weighted evaluation (N = the k samples of one image:
5,000 in `bench_likelihood.py`, K = 500). Three ways, each a compiled
`tf.function` on the same inputs, timed in alternating rounds in one process
(this machine's speed drifts), median and best of `--rounds`:

* `MixturePrior.log_prob` (tfvae): sum_d z_d^2 / v_cd and sum_d z_d mu_cd / v_cd
  as two matmuls in float64;
* the direct sum: `losses.diagonal_gaussian_log_prob` broadcast to `(N, K, D)`
  in float32, then logsumexp (what tfvae did before);
* the same two matmuls in float32, to show why tfvae does not.

Accuracy: the largest error of each against the direct sum in float64 NumPy,
in nats, with components as narrow as a trained VampPrior's (sigma from 0.01
to 1) and latents drawn from them.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--components", type=int, default=500, help="K")
    p.add_argument("--dims", type=int, default=50, help="D")
    p.add_argument("--latents", type=int, default=5000, help="N")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf
    from scipy.special import logsumexp

    from tfvae import losses
    from tfvae.models.mixture_prior import MixturePrior

    k, d, n = args.components, args.dims, args.latents
    rng = np.random.default_rng(args.seed)
    means = rng.normal(0, 1.5, (k, d)).astype("float32")
    log_vars = (2 * np.log(rng.uniform(0.01, 1, (k, d)))).astype("float32")
    component = rng.integers(0, k, n)
    z_np = (means[component] + np.exp(0.5 * log_vars[component]) * rng.normal(size=(n, d))).astype("float32")
    log_pi = np.full(k, -np.log(k), "float32")

    m64, lv64, z64 = means.astype(np.float64), log_vars.astype(np.float64), z_np.astype(np.float64)
    reference = np.empty(n)
    for s in range(0, n, 500):  # the (N, K, D) float64 array in slices: 1 GB at once otherwise
        per = -0.5 * np.sum(np.log(2 * np.pi) + lv64 + (z64[s:s + 500, None] - m64) ** 2 * np.exp(-lv64), -1)
        reference[s:s + 500] = logsumexp(per, -1) - np.log(k)

    prior = MixturePrior(lambda: (np.zeros(k, "float32"), means, log_vars))

    def broadcast(z):
        return tf.reduce_logsumexp(losses.diagonal_gaussian_log_prob(z[:, None, :], means, log_vars) + log_pi, -1)

    def matmul32(z):
        precisions = tf.exp(-log_vars)
        quadratic = (tf.matmul(tf.square(z), precisions, transpose_b=True)
                     - 2.0 * tf.matmul(z, means * precisions, transpose_b=True)
                     + tf.reduce_sum(tf.square(means) * precisions, -1))
        per = -0.5 * (quadratic + tf.reduce_sum(log_vars, -1) + d * np.log(2 * np.pi))
        return tf.reduce_logsumexp(per + log_pi, -1)

    variants = {"tfvae (float64 matmuls)": tf.function(prior.log_prob),
                "direct broadcast (float32)": tf.function(broadcast),
                "float32 matmuls": tf.function(matmul32)}
    z = tf.constant(z_np)
    errors = {name: float(np.max(np.abs(f(z).numpy() - reference))) for name, f in variants.items()}
    times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, f in variants.items():
            start = time.perf_counter()
            f(z).numpy()
            times[name].append(time.perf_counter() - start)

    baseline = "direct broadcast (float32)"
    base = statistics.median(times[baseline])
    print(f"# mixture log-density on {device_description()}: K = {k}, D = {d}, N = {n}; "
          f"{args.rounds} alternating rounds, sigma from 0.01 to 1")
    print()
    print("| variant | median ms | best ms | vs broadcast (median) | max error vs float64 NumPy (nats) |")
    print("|---|---|---|---|---|")
    for name in variants:
        median = statistics.median(times[name])
        ratio = "1.0x (the baseline)" if name == baseline else f"{base / median:.1f}x faster"
        print(f"| {name} | {1e3 * median:.1f} | {1e3 * min(times[name]):.1f} | {ratio} | "
              f"{errors[name]:.1e} |")


if __name__ == "__main__":
    main()
