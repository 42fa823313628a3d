"""A Gaussian discretised to the levels of 8-bit (or n-level) images."""

import keras
from keras import ops

from tfvae import losses
from tfvae._checks import check_int
from tfvae._input_checks import check_levels
from tfvae.likelihoods.likelihood import Likelihood

# 8-bit images scaled to [0, 1].
NUM_BINS = 256


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

    def mean(self, outputs):
        return ops.cast(outputs, "float32")

    def check_data(self, images, who):
        check_levels(images, self.num_bins, who)

    def get_config(self):
        return {"num_bins": self.num_bins}
