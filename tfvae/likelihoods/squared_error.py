"""The squared error: the reconstruction distance of autoencoders and the VQ-VAE."""

import keras
from keras import ops

from tfvae import losses
from tfvae.likelihoods.likelihood import Likelihood

REDUCTIONS = ("sum", "mean")


@keras.saving.register_keras_serializable(package="tfvae")
class SquaredError(Likelihood):
    """||x - x_hat||^2 per example, summed ("sum") or averaged ("mean") over pixels.

    Up to a constant and a factor it is -log of a Gaussian density with a fixed
    unit scale ("sum": 2 * nll - d log 2 pi), but not a probability of the data:
    use `Gaussian` or `DiscretizedGaussian` where the figure must be a likelihood.
    "mean" is the VQ-VAE paper's and the keras.io example's form (the model then
    divides it by the data variance), "sum" the autoencoders'.

    Args:
        reduction: "sum" (registered as "squared_error") or "mean" (registered
            as "mean_squared_error").

    Example:

    >>> import numpy as np, tfvae
    >>> x, x_hat = np.ones((1, 4), "float32"), np.zeros((1, 4), "float32")
    >>> float(tfvae.likelihoods.get("mean_squared_error").negative_log_likelihood(x, x_hat)[0])
    1.0
    """

    def __init__(self, reduction="sum"):
        if reduction not in REDUCTIONS:
            raise ValueError(f"`reduction` must be one of {REDUCTIONS}; received reduction={reduction!r}.")
        self.reduction = reduction

    @property
    def name(self):
        return "squared_error" if self.reduction == "sum" else "mean_squared_error"

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        self._check_scale(log_scale)
        if self.reduction == "sum":
            return losses.squared_error(x, outputs)
        return losses.mean_squared_error(x, outputs)

    def mean(self, outputs, log_scale=None):
        return ops.cast(outputs, "float32")

    def get_config(self):
        return {"reduction": self.reduction}
