"""A diagonal Gaussian density of continuous data."""

import keras
from keras import ops

from tfvae import losses
from tfvae.likelihoods.likelihood import Likelihood


@keras.saving.register_keras_serializable(package="tfvae")
class Gaussian(Likelihood):
    """N(x; mean, exp(log_scale)^2) per dimension: a density for real-valued data.

    The decoder gives the mean; the model gives the log scale (fixed, learned,
    or a second decoder output). On 8-bit pixels a density is not a likelihood
    of the data (it can exceed 1), so it bounds nothing there and has no bits
    per dimension: `DiscretizedGaussian` is the likelihood for such images.

    Example:

    >>> import numpy as np, tfvae
    >>> x = np.zeros((1, 3), "float32")
    >>> round(float(tfvae.likelihoods.Gaussian().negative_log_likelihood(x, x, log_scale=0.0)[0]), 4)  # 1.5 log 2 pi
    2.7568
    """

    name = "gaussian"
    has_scale = True

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        self._check_scale(log_scale)
        return -losses.gaussian_log_likelihood(x, outputs, log_scale)

    def mean(self, outputs, log_scale=None):
        return ops.cast(outputs, "float32")
