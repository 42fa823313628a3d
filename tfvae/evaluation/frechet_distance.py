"""The Fréchet distance between the Gaussians fitted to two sets of features (FID when they are Inception's)."""

import numpy as np

from tfvae.evaluation.feature_statistics import FeatureStatistics


def _moments(features):
    if isinstance(features, FeatureStatistics):
        return features.mean, features.covariance
    stats = FeatureStatistics()
    stats.update(features)
    return stats.mean, stats.covariance


def _psd_sqrt(matrix):
    """Symmetric square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(real_features, generated_features):
    """||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) (Heusel et al., 2017).

    The trace of the matrix square root is computed as the sum of the square
    roots of the eigenvalues of the symmetric matrix S_r^(1/2) S_g S_r^(1/2),
    which has the same eigenvalues as S_r S_g: it is real and exact for
    rank-deficient covariances (fewer images than feature dimensions), where
    `scipy.linalg.sqrtm(S_r @ S_g)` may return complex values and the
    reference implementations add a small multiple of the identity.

    Args:
        real_features: array `(n, d)` or `FeatureStatistics`.
        generated_features: array `(m, d)` or `FeatureStatistics`.

    Returns:
        float >= 0 (in squared feature units).

    Example:

    >>> import numpy as np
    >>> from tfvae.evaluation import frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(5000, 2)), rng.normal(size=(5000, 2)) + [3.0, 0.0]
    >>> round(frechet_distance(a, b))  # 3^2 = 9 between the distributions, up to sampling error
    9
    """
    mu_r, s_r = _moments(real_features)
    mu_g, s_g = _moments(generated_features)
    if mu_r.shape != mu_g.shape:
        raise ValueError(f"frechet_distance: features of {mu_r.shape[0]} and {mu_g.shape[0]} dimensions; "
                         "both sets must come from the same extractor.")
    root = _psd_sqrt(s_r)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s_g @ root), 0.0, None)).sum()
    value = float(np.sum((mu_r - mu_g) ** 2) + np.trace(s_r) + np.trace(s_g) - 2.0 * cross)
    return max(value, 0.0)
