"""The interface every likelihood (reconstruction term) of tfvae's models follows."""

import keras


@keras.saving.register_keras_serializable(package="tfvae")
class Likelihood:
    """p(x | decoder outputs): the reconstruction term of a model, per example.

    One object says what a decoder's outputs mean and what the figures computed
    from them are: the per-example negative log-likelihood (or, for the squared
    error, a distance), the image the outputs stand for, and whether the value
    is `-log` of a probability of the data, so that bits per dimension and
    bounds on discrete data may be reported.

    Subclasses set the class attributes and implement `negative_log_likelihood`
    and `mean`; they are plain serialisable objects without weights. A scale
    (the Gaussian kinds') is not part of the likelihood: the model supplies its
    logarithm, fixed, learned or from the decoder.

    Attributes:
        name: str. The identifier `tfvae.likelihoods.get` knows it by.
        is_probability: bool. Whether `negative_log_likelihood` is -log of a
            probability of discrete data (Bernoulli on binary pixels, the
            discretised Gaussian on 8-bit levels); only then do bits per
            dimension mean anything. `check_data` says whether given images are
            such data.
        has_scale: bool. Whether `negative_log_likelihood` takes `log_scale`.
        unit_range_only: bool. Whether it scores values in [0, 1] only, so a
            model using it needs `value_range="unit"`.
        num_levels: int or None. The number of levels k / (num_levels - 1) of
            [0, 1] the data must lie on (checked by the models), if any.
    """

    name = None
    is_probability = False
    has_scale = False
    unit_range_only = False
    num_levels = None

    def negative_log_likelihood(self, x, outputs, log_scale=None):
        """-log p(x | outputs) per example, in nats (a distance for the squared error).

        Args:
            x: tensor `(batch, ...)`: the data.
            outputs: tensor of the same shape: what the decoder gives (logits or
                means).
            log_scale: tensor broadcastable to `x`, for likelihoods with a scale
                (`has_scale`): the log standard deviation. Must be None otherwise.

        Returns:
            Tensor `(batch,)`, float32.
        """
        raise NotImplementedError

    def mean(self, outputs, log_scale=None):
        """The expected image under p(x | outputs), float32: what `reconstruct`, `decode` and `sample` give.

        Args:
            outputs: the decoder's outputs.
            log_scale: the log standard deviation, for likelihoods with a scale
                whose mean depends on it (the discretised Gaussian); None otherwise.
        """
        raise NotImplementedError

    def check_data(self, images, who):
        """Raises `ValueError` unless `-log p` of `images` under this likelihood is a probability of them.

        Args:
            images: array `(n, ...)`.
            who: str. Named in the message (the caller, e.g. "bits_per_dim").
        """
        raise ValueError(
            f"{who}: bits per dimension are defined for likelihoods of discrete data (bernoulli, "
            f"discretized_gaussian); received likelihood={self.name!r} (a density or a distance, not a "
            "probability of the pixels)."
        )

    def _check_scale(self, log_scale):
        if self.has_scale and log_scale is None:
            raise ValueError(f"The {self.name!r} likelihood needs `log_scale`; received log_scale=None.")
        if not self.has_scale and log_scale is not None:
            raise ValueError(f"The {self.name!r} likelihood has no scale; received log_scale={log_scale!r}.")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __str__(self):
        return self.name
