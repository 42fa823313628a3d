"""tfvae.metrics' MMD estimate against NumPy and its statistical properties."""

import numpy as np
import pytest

from tfvae import metrics

rng = np.random.default_rng(0)


def _numpy_mmd(a, b, bandwidth):
    """The unbiased MMD^2 U-statistic (Gretton et al., 2012, eq. 3), written out with loops over pairs."""
    def k(u, v):
        return np.exp(-np.sum((u - v) ** 2) / (2 * bandwidth**2))

    n, m = len(a), len(b)
    xx = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a[i], b[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


@pytest.mark.parametrize("n, m, d", [(7, 7, 3), (5, 9, 2), (12, 4, 8)])
def test_mmd_matches_the_pairwise_definition(n, m, d):
    a, b = rng.normal(size=(n, d)), rng.normal(1.0, 2.0, size=(m, d))
    got = float(metrics.gaussian_kernel_mmd(a, b, np.sqrt(d)))
    np.testing.assert_allclose(got, _numpy_mmd(a, b, np.sqrt(d)), rtol=1e-4, atol=1e-6)


def test_mmd_is_unbiased_for_equal_distributions_and_grows_with_the_shift():
    d = 4
    same = [float(metrics.gaussian_kernel_mmd(rng.normal(size=(32, d)), rng.normal(size=(32, d)), 2.0))
            for _ in range(200)]
    # The mean of 200 estimates is 0 within its standard error (an estimator that keeps the diagonal is not).
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(200) + 1e-4
    shifts = [float(metrics.gaussian_kernel_mmd(rng.normal(size=(256, d)), rng.normal(s, 1.0, size=(256, d)), 2.0))
              for s in (0.25, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(shifts, shifts[1:])), shifts
