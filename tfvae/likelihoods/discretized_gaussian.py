"""A Gaussian discretised to the levels of 8-bit (or n-level) images."""

import math

import keras
from keras import ops

from tfvae import losses
from tfvae._checks import check_int
from tfvae._input_checks import check_levels
from tfvae.likelihoods.likelihood import Likelihood

# 8-bit images scaled to [0, 1].
NUM_BINS = 256


# Abramowitz and Stegun (1964), 7.1.26: erf(x) for x >= 0 within 1.5e-7, from exp and arithmetic alone, so
# that exported models run on TFLite's builtin ops (which have no Erf or Erfc).
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _normal_cdf(t):
    """Phi(t), within 3e-7 of the exact value in float32 (tests/test_likelihoods.py)."""
    x = ops.abs(t) / math.sqrt(2.0)
    k = 1.0 / (1.0 + _ERF_P * x)
    poly = k * (_ERF_A[0] + k * (_ERF_A[1] + k * (_ERF_A[2] + k * (_ERF_A[3] + k * _ERF_A[4]))))
    erf = 1.0 - poly * ops.exp(-ops.square(x))
    return 0.5 + 0.5 * ops.where(t < 0, -erf, erf)


def _normal_pdf(t):
    return ops.exp(-0.5 * ops.square(t)) / math.sqrt(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="tfvae")
class DiscretizedGaussian(Likelihood):
    """A Gaussian's mass on the bins of `num_bins` levels of [0, 1]: a probability of quantised images.

    Level k / (num_bins - 1) gets the Gaussian's mass on its bin of width
    1 / (num_bins - 1), the edge bins extended to infinity, so the masses of all
    levels sum to one and the -ELBO is a bound on -log P(x) of the discrete
    images, comparable in bits per dimension (computed stably in float64; see
    `tfvae.losses.discretized_gaussian_log_likelihood`). Data must lie on the
    levels (the models check it).

    Args:
        num_bins: int >= 2. Number of levels (256 for 8-bit images).

    Example:

    >>> import numpy as np, tfvae
    >>> x, mean = np.array([[0.0, 1.0]], "float32"), np.full((1, 2), 0.5, "float32")
    >>> nll = tfvae.likelihoods.DiscretizedGaussian(num_bins=2).negative_log_likelihood(x, mean, log_scale=0.0)
    >>> round(float(nll[0]), 4)  # levels 0 and 1, bins split at the mean 0.5: mass 1/2 each
    1.3863
    """

    name = "discretized_gaussian"
    is_probability = True
    has_scale = True
    unit_range_only = True

    def __init__(self, num_bins=NUM_BINS):
        self.num_bins = check_int(num_bins, "num_bins", 2)

    @property
    def num_levels(self):
        return self.num_bins

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        self._check_scale(log_scale)
        return -losses.discretized_gaussian_log_likelihood(x, outputs, log_scale, self.num_bins)

    def mean(self, outputs, log_scale=None):
        """The expected image: the mean of the Gaussian censored to [0, 1], not its location.

        Levels 0 and 1 carry the Gaussian's tails, so a decoder maximising the
        likelihood of a pixel that is always 0 moves the location far below 0
        (MNIST's background goes to -12): the location is no image. The mean of
        the censored Gaussian, with a = -mu / sigma and b = (1 - mu) / sigma,
        is mu (Phi(b) - Phi(a)) + sigma (phi(a) - phi(b)) + 1 - Phi(b); it
        differs from the mean of the discretised distribution by less than half
        a level (the rounding to levels moves no value further).
        """
        if log_scale is None:
            raise ValueError("The 'discretized_gaussian' likelihood's mean needs `log_scale`; received None.")
        mu = ops.cast(outputs, "float32")
        sigma = ops.exp(ops.broadcast_to(ops.cast(log_scale, "float32"), ops.shape(mu)))
        a, b = -mu / sigma, (1.0 - mu) / sigma
        cdf_a, cdf_b = _normal_cdf(a), _normal_cdf(b)
        middle = mu * (cdf_b - cdf_a) + sigma * (_normal_pdf(a) - _normal_pdf(b))
        return ops.clip(middle + (1.0 - cdf_b), 0.0, 1.0)

    def check_data(self, images, who):
        check_levels(images, self.num_bins, who)

    def get_config(self):
        return {"num_bins": self.num_bins}
