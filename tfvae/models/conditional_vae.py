"""The conditional VAE: encoder and decoder both see the class label."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae._checks import check_labels, check_num_classes
from tfvae.models.vae import VAE


@keras.saving.register_keras_serializable(package="tfvae")
class ConditionalVAE(VAE):
    """VAE with q(z|x, y) and p(x|z, y) for a class label y.

    The conditional model of Sohn et al., *Learning Structured Output
    Representation using Deep Conditional Generative Models* (2015), in its
    simplest form (Kingma et al., *Semi-Supervised Learning with Deep Generative
    Models*, 2014, model M2 with observed labels): the one-hot label is a second
    input of both networks and the prior stays N(0, I). Everything else
    (likelihoods, loss, metrics, importance sampling) is that of `VAE`.

    Args:
        encoder: keras.Model. Maps `[images, one_hot_labels]` to `[mean, log_var]`.
        decoder: keras.Model. Maps `[z, one_hot_labels]` to likelihood parameters.
        num_classes: int >= 2. Number of classes; labels are ints in [0, num_classes).
        **kwargs: the arguments of `VAE` (likelihood, observation_scale, beta, ...).

    Call arguments:
        inputs: tuple `(images, labels)`, images `(batch, *image_shape)` and
            integer labels `(batch,)`.
        training: bool. Sample the latent (True) or decode its mean.

    Returns:
        The mean of p(x|z, y), shaped like the images. Training data are
        `(images, labels)` pairs, e.g. `tfvae.data.load(..., with_labels=True)`.

    Example:

    >>> cvae = ConditionalVAE.mlp((28, 28, 1), latent_dim=20, num_classes=10)
    >>> cvae.compile("adam")
    >>> cvae.fit(tfvae.data.load("mnist", "train", 128, with_labels=True), epochs=5)
    >>> sevens = cvae.sample(16, labels=7, seed=0)
    """

    def __init__(self, encoder, decoder, num_classes, **kwargs):
        num_classes = check_num_classes(num_classes)
        kwargs.setdefault("name", "conditional_vae")
        self._num_classes_pending = int(num_classes)
        super().__init__(encoder, decoder, **kwargs)
        self.num_classes = int(num_classes)

    @property
    def _num_classes(self):
        # Available while VAE.__init__ builds, before `num_classes` is assigned.
        return getattr(self, "num_classes", None) or self._num_classes_pending

    def _one_hot(self, labels):
        return ops.one_hot(ops.cast(labels, "int32"), self._num_classes)

    def _encoder_inputs(self, x, labels):
        return [x, self._one_hot(labels)]

    def _decoder_inputs(self, z, labels):
        return [z, self._one_hot(labels)]

    def _split_call_inputs(self, inputs):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(
                "ConditionalVAE is called on a pair (images, labels); received "
                f"{type(inputs).__name__} of length {len(inputs) if isinstance(inputs, (tuple, list)) else 1}."
            )
        return inputs[0], inputs[1]

    def _build_input_shape(self, image_shape):
        return [(None, *image_shape), (None,)]

    def _label_spec(self):
        return keras.KerasTensor((1,), "int32")

    def _unpack(self, data):
        """`(images, labels)`, `((images, labels),)` or `(images, labels, sample_weight)`."""
        if isinstance(data, (tuple, list)) and len(data) == 1:
            data = data[0]
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise ValueError(
                "ConditionalVAE trains on (images, labels) pairs, e.g. "
                "tfvae.data.load(name, split, batch_size, with_labels=True); received a single tensor."
            )
        x, labels = data[0], data[1]
        if isinstance(x, (tuple, list)):
            x, labels = x
        return x, labels

    def _check_labels(self, labels, batch_size, who):
        if not self.validate_inputs:
            return labels
        return check_labels(labels, self._num_classes, batch_size, who)

    def sample(self, n, labels=None, seed=None):
        """Decodes `n` draws z ~ N(0, I) for the given labels.

        Args:
            n: int. Number of images.
            labels: int, array `(n,)` or None. One label for all, one per image,
                or None for the classes in turn (0, 1, ..., 0, 1, ...).
            seed: int or None. The same seed gives the same images.
        """
        if not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"`n` must be a positive int; received n={n!r}.")
        if labels is None:
            labels = np.arange(n) % self.num_classes
        elif np.ndim(labels) == 0:
            labels = np.full((n,), labels)
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"`labels` must be an int or have shape ({n},); received shape {labels.shape}.")
        return super().sample(n, labels=tf.convert_to_tensor(labels), seed=seed)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
