"""k-nearest-neighbour balls of feature sets, computed in blocks so that 10,000 x 10,000 distances fit in memory."""

import numpy as np

BLOCK_ROWS = 1000


def squared_distances(a, b):
    """`(len(a), len(b))` squared Euclidean distances, float64, never below 0."""
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def kth_neighbour_radii(features, k):
    """Squared distance of each row to its k-th nearest other row `(n,)`."""
    if len(features) <= k:
        raise ValueError(f"k-nearest neighbours with k={k} need more than {k} feature vectors; "
                         f"received {len(features)}.")
    radii = np.empty(len(features))
    for start in range(0, len(features), BLOCK_ROWS):
        d = squared_distances(features[start:start + BLOCK_ROWS], features)
        # The row itself is at distance 0: the k-th other neighbour is the (k + 1)-th smallest.
        radii[start:start + BLOCK_ROWS] = np.partition(d, k, axis=1)[:, k]
    return radii


def ball_counts(points, centres, radii):
    """For each point, how many of the balls (centres, squared radii) hold it `(len(points),)`."""
    counts = np.empty(len(points), np.int64)
    for start in range(0, len(points), BLOCK_ROWS):
        d = squared_distances(points[start:start + BLOCK_ROWS], centres)
        counts[start:start + BLOCK_ROWS] = (d <= radii[None, :]).sum(1)
    return counts


def nearest_within(centres, radii, points):
    """For each ball (centre, squared radius), whether its nearest point lies in it `(len(centres),)`."""
    hit = np.empty(len(centres), bool)
    for start in range(0, len(centres), BLOCK_ROWS):
        d = squared_distances(centres[start:start + BLOCK_ROWS], points)
        hit[start:start + BLOCK_ROWS] = d.min(1) <= radii[start:start + BLOCK_ROWS]
    return hit
