"""Likelihoods (reconstruction terms) of tfvae's models: one vocabulary for every model.

`VAE`, `VQVAE` and `Autoencoder` (and their subclasses) take
`likelihood=` as a name or an object of this module:

| name                   | class                            | decoder gives     | probability of the data? |
|------------------------|----------------------------------|-------------------|--------------------------|
| "bernoulli"            | `Bernoulli()`                    | logits            | yes, of binary images    |
| "squared_error"        | `SquaredError("sum")`            | the image         | no (a distance)          |
| "mean_squared_error"   | `SquaredError("mean")`           | the image         | no (a distance)          |
| "gaussian"             | `Gaussian()`                     | the mean (+scale) | no (a density)           |
| "discretized_gaussian" | `DiscretizedGaussian(num_bins)`  | the mean (+scale) | yes, of n-level images   |
| "discretized_logistic_mixture" | `DiscretizedLogisticMixture(K)` | mixture parameters | yes, of n-level images |

Each gives its negative log-likelihood per example (`negative_log_likelihood`),
the image its outputs stand for (`mean`), and whether bits per dimension may
be reported (`is_probability`, `check_data`).
"""

import keras

from tfvae.likelihoods.bernoulli import Bernoulli
from tfvae.likelihoods.discretized_gaussian import DiscretizedGaussian
from tfvae.likelihoods.discretized_logistic_mixture import DiscretizedLogisticMixture
from tfvae.likelihoods.gaussian import Gaussian
from tfvae.likelihoods.likelihood import Likelihood
from tfvae.likelihoods.squared_error import SquaredError

__all__ = [
    "Bernoulli",
    "DiscretizedGaussian",
    "DiscretizedLogisticMixture",
    "Gaussian",
    "Likelihood",
    "SquaredError",
    "get",
    "serialize",
]

_BY_NAME = {
    "bernoulli": Bernoulli,
    "squared_error": lambda: SquaredError("sum"),
    "mean_squared_error": lambda: SquaredError("mean"),
    "gaussian": Gaussian,
    "discretized_gaussian": DiscretizedGaussian,
    "discretized_logistic_mixture": DiscretizedLogisticMixture,
}


def get(identifier, allowed=None, who=None):
    """A `Likelihood` from a name, a serialised config or an object (returned as it is).

    Args:
        identifier: str (one of the names in this module's table), dict (what
            `serialize` gives) or `Likelihood`.
        allowed: tuple of names or None. The kinds the caller can use; others
            are refused.
        who: str or None. The caller, named in the message (e.g. "VQVAE").

    Returns:
        A `Likelihood`.

    Raises:
        ValueError: for anything else, naming the value received and the names expected.
    """
    obj = None
    if isinstance(identifier, Likelihood):
        obj = identifier
    elif isinstance(identifier, str) and identifier in _BY_NAME:
        obj = _BY_NAME[identifier]()
    elif isinstance(identifier, dict):
        try:
            obj = keras.saving.deserialize_keras_object(identifier)
        except (TypeError, ValueError):
            obj = None
    names = tuple(_BY_NAME) if allowed is None else tuple(allowed)
    if not isinstance(obj, Likelihood) or obj.name not in names:
        raise ValueError(
            f"{who + ': ' if who else ''}`likelihood` must be one of {names} (a name or a "
            f"tfvae.likelihoods object); received likelihood={identifier!r}."
        )
    return obj


def serialize(likelihood):
    """What a model's `get_config` stores: the name where it says everything, else Keras' serialised object."""
    if likelihood.name in _BY_NAME and _BY_NAME[likelihood.name]() == likelihood:
        return likelihood.name
    return keras.saving.serialize_keras_object(likelihood)
