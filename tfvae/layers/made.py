"""MADE: a dense network whose outputs for dimension i see only the inputs before i."""

import keras
import numpy as np
from keras import ops

from tfvae._checks import check_int, check_positive_ints


def _degrees(dim, hidden_units):
    """Input degrees 1..dim and, per hidden layer, degrees cycling through 1..dim-1 (Germain et al., 2015)."""
    degrees = [np.arange(1, dim + 1)]
    for units in hidden_units:
        degrees.append(np.arange(units) % max(dim - 1, 1) + 1)
    return degrees


@keras.saving.register_keras_serializable(package="tfvae")
class MADE(keras.layers.Layer):
    """Masked autoencoder for distribution estimation (Germain et al., *MADE*, 2015), as IAF uses it.

    Dense layers with ELU between them whose weights are masked so that output
    i (for each of `num_params` parameters) depends on inputs 1..i-1 only: the
    Jacobian of any output with respect to the input is strictly lower
    triangular in the input's order. An optional context vector (e.g. from the
    encoder) enters every hidden unit unmasked. The last layer starts at zero,
    so the outputs start at zero (a flow built on it starts near the identity).

    Args:
        hidden_units: sequence of ints >= 1. Widths of the hidden layers.
        num_params: int >= 1. Outputs per input dimension.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `z` `(batch, dim)`, or `[z, context]` with context `(batch, c)`.

    Returns:
        `(batch, dim, num_params)`.

    Example:

    >>> import numpy as np, tfvae
    >>> made = tfvae.layers.MADE(hidden_units=(16,), num_params=2)
    >>> tuple(made(np.zeros((3, 5), "float32")).shape)
    (3, 5, 2)
    """

    def __init__(self, hidden_units=(64,), num_params=2, **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = check_positive_ints(hidden_units, "hidden_units")
        if not self.hidden_units:
            raise ValueError("`hidden_units` must name at least one layer; received hidden_units=().")
        self.num_params = check_int(num_params, "num_params", 1)

    def build(self, input_shape):
        z_shape, context_shape = (input_shape if isinstance(input_shape[0], (list, tuple)) else (input_shape, None))
        dim = int(z_shape[-1])
        degrees = _degrees(dim, self.hidden_units)
        self._masks = [(degrees[i + 1][None, :] >= degrees[i][:, None]).astype("float32")
                       for i in range(len(self.hidden_units))]
        out_degrees = np.repeat(np.arange(1, dim + 1), self.num_params)
        self._masks.append((out_degrees[None, :] > degrees[-1][:, None]).astype("float32"))
        widths = [dim, *self.hidden_units, dim * self.num_params]
        self.kernels, self.biases = [], []
        for i in range(len(widths) - 1):
            last = i == len(widths) - 2
            self.kernels.append(self.add_weight(
                shape=(widths[i], widths[i + 1]), name=f"kernel_{i}",
                initializer="zeros" if last else "glorot_uniform"))
            self.biases.append(self.add_weight(shape=(widths[i + 1],), name=f"bias_{i}", initializer="zeros"))
        self.context_kernel = None
        if context_shape is not None:
            self.context_kernel = self.add_weight(shape=(int(context_shape[-1]), self.hidden_units[0]),
                                                  name="context_kernel", initializer="glorot_uniform")
        self._dim = dim

    def call(self, inputs):
        z, context = (inputs if isinstance(inputs, (list, tuple)) else (inputs, None))
        h = z
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            h = ops.matmul(h, kernel * self._masks[i]) + bias
            if i == 0 and context is not None:
                h = h + ops.matmul(context, self.context_kernel)
            if i < len(self.kernels) - 1:
                h = ops.elu(h)
        return ops.reshape(h, (-1, self._dim, self.num_params))

    def compute_output_shape(self, input_shape):
        z_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        return (z_shape[0], z_shape[-1], self.num_params)

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units), "num_params": self.num_params}
