"""Independent Bernoulli pixels."""

import keras
from keras import ops

from tfvae import losses
from tfvae._input_checks import check_binary
from tfvae.likelihoods.likelihood import Likelihood


@keras.saving.register_keras_serializable(package="tfvae")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels with decoder logits: the likelihood of binary images.

    `negative_log_likelihood` is the cross-entropy softplus(l) - x * l summed over
    pixels, in nats, exact for any logit. Grey levels in [0, 1] are accepted as
    targets (the usual practice on MNIST), but the value is then no probability
    of the data, and `check_data` refuses them for bits per dimension.

    Example:

    >>> import numpy as np, tfvae
    >>> x = np.array([[1.0, 0.0]], "float32")
    >>> float(tfvae.likelihoods.Bernoulli().negative_log_likelihood(x, np.zeros_like(x))[0])  # 2 log 2
    1.3862943649291992
    """

    name = "bernoulli"
    is_probability = True
    unit_range_only = True

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        self._check_scale(log_scale)
        return -losses.bernoulli_log_likelihood(x, outputs)

    def mean(self, outputs, log_scale=None):
        return ops.sigmoid(ops.cast(outputs, "float32"))

    def check_data(self, images, who):
        check_binary(images, who)
