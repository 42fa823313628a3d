"""Running mean and covariance of feature vectors, accumulated batch by batch."""

import numpy as np


class FeatureStatistics:
    """The mean and covariance of feature vectors seen in batches, in float64.

    What the Fréchet distance needs of a set of images, without holding the
    set: `update` adds a batch `(b, d)`; `mean` and `covariance` (unbiased,
    divisor n - 1) describe all rows seen so far. Sums are kept about a shift
    (the first batch's mean), so that features far from the origin lose no
    precision in the covariance.

    Example:

    >>> import numpy as np
    >>> from tfvae.evaluation import FeatureStatistics
    >>> f = np.random.default_rng(0).normal(size=(1000, 3))
    >>> stats = FeatureStatistics()
    >>> for batch in np.split(f, 10):
    ...     stats.update(batch)
    >>> bool(np.allclose(stats.covariance, np.cov(f, rowvar=False)))
    True
    """

    def __init__(self):
        self.count = 0
        self._shift = None
        self._sum = None
        self._outer = None

    def update(self, features):
        """Adds a batch of feature vectors `(b, d)`."""
        f = np.asarray(features, np.float64)
        if f.ndim != 2:
            raise ValueError(f"FeatureStatistics.update takes features (batch, dims); received shape {f.shape}.")
        if not np.isfinite(f).all():
            raise ValueError("FeatureStatistics.update: the features hold NaN or Inf (the images or the extractor "
                             "gave non-finite values).")
        if self._shift is None:
            self._shift = f.mean(axis=0)
            self._sum = np.zeros(f.shape[1])
            self._outer = np.zeros((f.shape[1], f.shape[1]))
        elif f.shape[1] != self._shift.shape[0]:
            raise ValueError(f"FeatureStatistics.update: features of {self._shift.shape[0]} dimensions so far; "
                             f"received {f.shape[1]}.")
        c = f - self._shift
        self._sum += c.sum(axis=0)
        self._outer += c.T @ c
        self.count += f.shape[0]

    @property
    def mean(self):
        """Mean feature vector `(d,)`."""
        self._require(1)
        return self._shift + self._sum / self.count

    @property
    def covariance(self):
        """Unbiased covariance `(d, d)`."""
        self._require(2)
        centred = self._sum / self.count
        return (self._outer - self.count * np.outer(centred, centred)) / (self.count - 1)

    def _require(self, n):
        if self.count < n:
            raise ValueError(f"FeatureStatistics: needs at least {n} feature vectors; has {self.count}.")
