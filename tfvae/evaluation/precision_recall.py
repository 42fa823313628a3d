"""Precision and recall of generated samples (Kynkäänniemi et al., 2019), and density and coverage (Naeem et al.,
2020), from k-nearest-neighbour balls around feature vectors."""

import numpy as np

from tfvae._checks import check_positive_int
from tfvae.evaluation import _neighbours


def _as_features(real, generated, who):
    x, y = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"{who}: features (n, d) of one extractor; received shapes {x.shape} and {y.shape}.")
    return x, y


def precision_recall(real_features, generated_features, k=3):
    """Improved precision and recall: how much of the samples is realistic, how much of the data is covered.

    Each real feature vector gets a ball reaching its k-th nearest real
    neighbour; **precision** is the fraction of generated vectors inside at
    least one real ball. Balls around the generated vectors (their k-th
    nearest generated neighbour) give **recall**: the fraction of real
    vectors inside at least one of them. k = 3 as in the paper.

    Args:
        real_features: array `(n, d)`, n > k.
        generated_features: array `(m, d)`, m > k.
        k: int >= 1.

    Returns:
        `(precision, recall)`: floats in [0, 1].

    Example:

    >>> import numpy as np
    >>> from tfvae.evaluation import precision_recall
    >>> f = np.random.default_rng(0).normal(size=(200, 4))
    >>> precision_recall(f, f)  # every vector lies in its own ball
    (1.0, 1.0)
    """
    x, y = _as_features(real_features, generated_features, "precision_recall")
    k = check_positive_int(k, "k")
    precision = float(np.mean(_neighbours.ball_counts(y, x, _neighbours.kth_neighbour_radii(x, k)) > 0))
    recall = float(np.mean(_neighbours.ball_counts(x, y, _neighbours.kth_neighbour_radii(y, k)) > 0))
    return precision, recall


def density_coverage(real_features, generated_features, k=5):
    """Density and coverage (Naeem et al., 2020): precision and recall that outliers do not inflate.

    With balls around the real vectors reaching their k-th nearest real
    neighbour, **density** is the mean number of real balls holding a
    generated vector, divided by k (about 1 when samples follow the data; it
    may exceed 1), and **coverage** the fraction of real balls whose nearest
    generated vector lies inside. k = 5 as in the paper.

    Args:
        real_features: array `(n, d)`, n > k.
        generated_features: array `(m, d)`.
        k: int >= 1.

    Returns:
        `(density, coverage)`: floats, density >= 0, coverage in [0, 1].
    """
    x, y = _as_features(real_features, generated_features, "density_coverage")
    k = check_positive_int(k, "k")
    radii = _neighbours.kth_neighbour_radii(x, k)
    density = float(_neighbours.ball_counts(y, x, radii).sum() / (k * len(y)))
    coverage = float(np.mean(_neighbours.nearest_within(x, radii, y)))
    return density, coverage
