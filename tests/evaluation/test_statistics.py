"""Fréchet distance, KID, precision/recall and density/coverage against SciPy, NumPy and closed forms."""

import numpy as np
import pytest
from scipy import linalg

from tests.helpers import run_docstring_example
from tfvae import evaluation
from tfvae.evaluation import FeatureStatistics

rng = np.random.default_rng(28)


def _scipy_frechet(a, b):
    """The reference implementations' formula: scipy.linalg.sqrtm of the product, its real part."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(root.real))


def _with_moments(mean, cov, n):
    """n rows whose sample mean and unbiased covariance are exactly `mean` and `cov`."""
    d = len(mean)
    z = rng.normal(size=(n, d))
    z -= z.mean(0)
    q, _ = np.linalg.qr(z)  # orthonormal columns summing to 0 (z was centred)
    white = q * np.sqrt(n - 1)  # sample covariance exactly I
    return white @ np.linalg.cholesky(cov).T + mean


@pytest.mark.parametrize("n, d", [(500, 8), (2000, 3)])
def test_frechet_distance_is_scipys(n, d):
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 0.5
    np.testing.assert_allclose(evaluation.frechet_distance(a, b), _scipy_frechet(a, b), rtol=1e-6)


def test_frechet_distance_of_rank_deficient_covariances_is_real_and_exact():
    """5 vectors in 8 dimensions: rank-4 covariances. The eigenvalue form needs no offset; SciPy's sqrtm of
    the singular product agrees where it converges (to its own tolerance)."""
    a, b = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)) + 1.0
    value = evaluation.frechet_distance(a, b)
    assert np.isfinite(value) and value > 0
    np.testing.assert_allclose(value, _scipy_frechet(a, b), rtol=1e-4)
    np.testing.assert_allclose(evaluation.frechet_distance(a, a), 0.0, atol=1e-9)


def test_frechet_distance_equals_the_closed_form_for_known_gaussians():
    mean_a, mean_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    cov_a, cov_b = np.diag([1.0, 4.0, 0.25]), np.diag([9.0, 1.0, 0.25])
    a, b = _with_moments(mean_a, cov_a, 50), _with_moments(mean_b, cov_b, 70)
    # Diagonal covariances commute: Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) = sum (sqrt(a_i) - sqrt(b_i))^2.
    expected = ((mean_a - mean_b) ** 2).sum() + ((np.sqrt(np.diag(cov_a)) - np.sqrt(np.diag(cov_b))) ** 2).sum()
    assert expected == pytest.approx(5.0 + 4.0 + 1.0)
    np.testing.assert_allclose(evaluation.frechet_distance(a, b), expected, rtol=1e-9)
    # Non-commuting covariances: (S_a S_b)^(1/2) by its definition, from SciPy.
    cov_c = np.array([[2.0, 0.9, 0.0], [0.9, 1.0, 0.3], [0.0, 0.3, 0.5]])
    c = _with_moments(mean_b, cov_c, 40)
    expected = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_c - 2 * linalg.sqrtm(cov_a @ cov_c).real)
    np.testing.assert_allclose(evaluation.frechet_distance(a, c), expected, rtol=1e-9)


def test_streamed_statistics_are_numpys_far_from_the_origin():
    f = rng.normal(size=(3000, 4)) + 1e6  # a naive sum of squares would lose the covariance here
    stats = FeatureStatistics()
    for batch in np.array_split(f, 7):
        stats.update(batch)
    np.testing.assert_allclose(stats.mean, f.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(f, rowvar=False), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(evaluation.frechet_distance(stats, f), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="NaN or Inf"):
        FeatureStatistics().update(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="4 dimensions so far; received 3"):
        stats.update(np.zeros((2, 3)))


def _unbiased_mmd2(x, y):
    """The unbiased MMD^2 of the cubic polynomial kernel, summed pair by pair."""
    d, m, n = x.shape[1], len(x), len(y)

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kernel_distance_is_the_unbiased_estimator():
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(40, 5)) + 0.3
    # One subset of all rows: a permutation, which the estimate does not depend on.
    mean, std = evaluation.kernel_distance(x, y, num_subsets=1, subset_size=40)
    np.testing.assert_allclose(mean, _unbiased_mmd2(x, y), rtol=1e-9)
    assert std == 0.0


def test_kernel_distance_is_unbiased_for_one_distribution():
    """Averaged over many independent pairs of small samples, KID of one distribution is 0 within its error."""
    values = [evaluation.kernel_distance(rng.normal(size=(30, 4)), rng.normal(size=(30, 4)), 1, 30, seed=i)[0]
              for i in range(400)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_precision_recall_on_identical_disjoint_and_hand_built_sets():
    f = rng.normal(size=(300, 6))
    assert evaluation.precision_recall(f, f) == (1.0, 1.0)
    assert evaluation.precision_recall(f, f + 1000.0) == (0.0, 0.0)
    # Real points 0, 1, ..., 9 on a line: with k = 1 each ball has radius 1, together covering [-1, 10].
    real = np.arange(10.0)[:, None]
    generated = np.array([[0.5], [9.5], [10.0], [20.0]])
    # Precision: 0.5, 9.5 and 10.0 (on the edge of 9's ball) lie in real balls, 20 does not: 3/4.
    # Generated balls (k = 1): 0.5's nearest other is 9.5, radius 9, covering [-8.5, 9.5]: every real
    # point, so recall is 1.
    assert evaluation.precision_recall(real, generated, k=1) == (0.75, 1.0)


def test_precision_recall_on_a_hand_built_2d_case():
    """Real points on the 3 x 3 grid {0, 1, 2}^2: with k = 1 every real ball has radius 1."""
    real = np.array([[i, j] for i in range(3) for j in range(3)], float)
    generated = np.array([[0.5, 0.0], [1.0, 1.5], [5.0, 5.0], [3.0, 0.0]])
    # In a real ball: (0.5, 0) at 0.5 from (0, 0); (1, 1.5) at 0.5 from (1, 1); (3, 0) at exactly 1 from (2, 0)
    # (the edge counts); (5, 5) at 4.24 from (2, 2) is not. Precision 3/4.
    # Generated balls (k = 1): (0.5, 0) and (1, 1.5) are each other's nearest (radius 1.58); the first holds
    # (0, 0), (1, 0), (2, 0), (0, 1), (1, 1), the second (0, 2), (1, 2), (2, 2), (2, 1): every real point.
    assert evaluation.precision_recall(real, generated, k=1) == (0.75, 1.0)
    # Without (1, 1.5): recall against a direct NumPy count of the real points inside the generated balls.
    rest = generated[[0, 2, 3]]
    radii = np.sort(np.linalg.norm(rest[:, None] - rest[None], axis=-1), axis=1)[:, 1]
    covered = (np.linalg.norm(real[:, None] - rest[None], axis=-1) <= radii[None] + 1e-12).any(1)
    assert evaluation.precision_recall(real, rest, k=1)[1] == covered.mean()


def test_density_and_coverage_on_hand_built_sets():
    real = np.arange(10.0)[:, None]
    # k = 2: the 2nd nearest other point is 2 away for the ends 0 and 9, 1 away for 1, ..., 8: those are the radii.
    generated = np.array([[0.0], [4.5], [100.0]])
    density, coverage = evaluation.density_coverage(real, generated, k=2)
    # 0.0 lies in the balls of 0 (radius 2) and 1 (distance 1, radius 1); 4.5 in those of 4 and 5 (distance
    # 0.5); 100 in none: density = (2 + 2 + 0) / (k * 3).
    np.testing.assert_allclose(density, 4 / 6)
    # A ball is covered if its nearest generated point lies in it: 0, 1 (0.0), 4 and 5 (4.5); 2 and 3 are
    # 2 and 1.5 from theirs (radius 1), 9 is 4.5 from 4.5 (radius 2). Coverage 4 / 10.
    np.testing.assert_allclose(coverage, 0.4)
    assert evaluation.density_coverage(real, real + 1000.0, k=2) == (0.0, 0.0)


@pytest.mark.parametrize("obj", [FeatureStatistics, evaluation.frechet_distance, evaluation.precision_recall])
def test_docstring_examples_run(obj):
    assert run_docstring_example(obj) >= 2


def test_bad_inputs_say_what_they_received():
    with pytest.raises(ValueError, match="3 and 4 dimensions"):
        evaluation.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="k=3 need more than 3"):
        evaluation.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="num_subsets"):
        evaluation.kernel_distance(np.zeros((5, 2)), np.zeros((5, 2)), num_subsets=0)
