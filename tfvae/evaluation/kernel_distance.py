"""The kernel inception distance: an unbiased MMD^2 with the cubic polynomial kernel."""

import numpy as np

from tfvae._checks import check_positive_int, check_seed


def _kernel(a, b):
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kernel_distance(real_features, generated_features, num_subsets=100, subset_size=1000, seed=0):
    """KID (Bińkowski et al., 2018): the unbiased MMD^2 estimate between two feature sets, over random subsets.

    With k(x, y) = (x . y / d + 1)^3, each subset of `subset_size` rows of
    each set (drawn without replacement) gives the unbiased estimate
    sum_{i != j} k(x_i, x_j) / (m (m - 1)) + sum_{i != j} k(y_i, y_j) / (m (m - 1))
    - 2 sum_{i, j} k(x_i, y_j) / m^2; the figure is the mean over subsets, with
    their standard deviation. Unlike the Fréchet distance, it is unbiased:
    its expectation is 0 when both sets come from one distribution, whatever
    the sample size.

    Args:
        real_features: array `(n, d)`.
        generated_features: array `(m, d)`.
        num_subsets: int >= 1.
        subset_size: int >= 2; at most the smaller set's size (then smaller).
        seed: int or None. Seed of the subsets.

    Returns:
        `(mean, std)`: floats.
    """
    x = np.asarray(real_features, np.float64)
    y = np.asarray(generated_features, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"kernel_distance: features (n, d) of one extractor; received shapes {x.shape} and {y.shape}.")
    num_subsets = check_positive_int(num_subsets, "num_subsets")
    m = min(check_positive_int(subset_size, "subset_size"), len(x), len(y))
    if m < 2:
        raise ValueError(f"kernel_distance: needs at least 2 rows of each set; received {len(x)} and {len(y)}.")
    rng = np.random.default_rng(check_seed(seed))
    estimates = np.empty(num_subsets)
    for s in range(num_subsets):
        a = x[rng.choice(len(x), m, replace=False)]
        b = y[rng.choice(len(y), m, replace=False)]
        kxx, kyy, kxy = _kernel(a, a), _kernel(b, b), _kernel(a, b)
        off = m * (m - 1)
        estimates[s] = ((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off
                        - 2.0 * kxy.mean())
    return float(estimates.mean()), float(estimates.std())
