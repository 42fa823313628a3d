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


def test_paired_mmd_leaves_out_the_pairs_drawn_together():
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    k = np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * 1.5**2))
    cross_without_pairs = (k.sum() - np.trace(k)) / 30
    expected = _numpy_mmd(a, b, 1.5) + 2 * k.mean() - 2 * cross_without_pairs
    np.testing.assert_allclose(float(metrics.gaussian_kernel_mmd(a, b, 1.5, paired=True)), expected, rtol=1e-4,
                               atol=1e-6)
    with pytest.raises(ValueError, match="one size"):
        metrics.gaussian_kernel_mmd(a, b[:5], 1.5, paired=True)


def test_paired_mmd_is_unbiased_when_codes_follow_the_class_conditional_prior():
    # Codes and prior draws both follow p(z|y) = N(mu_y, I) for the batch's labels (the conditional AAE's case):
    # MMD^2 = 0. Left in, the pairs (code i, draw i), which share a label, bias the estimate low.
    gen = np.random.default_rng(7)
    d, n, batches = 3, 100, 300
    means = gen.normal(0.0, 3.0, (10, d))
    paired, unpaired = [], []
    for _ in range(batches):
        y = gen.integers(0, 10, n)
        codes, draws = means[y] + gen.normal(size=(n, d)), means[y] + gen.normal(size=(n, d))
        paired.append(float(metrics.gaussian_kernel_mmd(codes, draws, np.sqrt(d), paired=True)))
        unpaired.append(float(metrics.gaussian_kernel_mmd(codes, draws, np.sqrt(d))))
    error = np.std(paired) / np.sqrt(batches)
    assert abs(np.mean(paired)) < 4 * error, (np.mean(paired), error)
    # The biased estimate sits many standard errors below 0 (about -0.006 at 100 examples).
    assert np.mean(unpaired) < -10 * np.std(unpaired) / np.sqrt(batches), np.mean(unpaired)
