"""The interface every tfvae quantizer shares."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfvae")
class Quantizer(keras.layers.Layer):
    """Base class of tfvae's quantizers: what `VQVAE` and `PixelCNNPrior` rely on.

    A quantizer maps encoder outputs `(..., embedding_dim)` to codes from a
    finite set of `num_embeddings` and back. Subclasses set `num_embeddings`
    and `embedding_dim` in `__init__` and implement three methods:

    - `quantize_details(inputs, training=False)`: a dict with "quantized"
      (shaped like `inputs`, carrying the gradient the quantizer chooses, e.g.
      straight-through), "indices" (int32, `indices_shape(inputs.shape)`) and
      "loss" (float32 `(batch,)`: the quantizer's auxiliary terms per example,
      zero if it has none);
    - `get_code_indices(inputs)`: the int32 indices alone;
    - `lookup(indices)`: the quantised vectors of int indices.

    Calling the layer adds the mean auxiliary loss with `add_loss` and returns
    the quantised tensor (and the indices if `return_indices`). The layer
    computes in float32 unless a `dtype` is given, so distances, entropies and
    losses stay float32 under mixed precision.

    Args:
        return_indices: bool. When True, calling returns `(quantized, indices)`.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(..., embedding_dim)`.
        training: bool. Whether state (e.g. moving averages) may be updated.

    Returns:
        The quantised tensor, shaped like `inputs`, and with `return_indices`
        the int32 indices of shape `indices_shape(inputs.shape)`.
    """

    def __init__(self, return_indices=False, **kwargs):
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.return_indices = bool(return_indices)

    def quantize_details(self, inputs, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement quantize_details().")

    def get_code_indices(self, inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement get_code_indices().")

    def lookup(self, indices):
        raise NotImplementedError(f"{type(self).__name__} must implement lookup().")

    def _check_width(self, inputs):
        """Refuses inputs whose last axis is not `embedding_dim`."""
        if inputs.shape[-1] != self.embedding_dim:
            raise ValueError(f"{type(self).__name__} with embedding_dim={self.embedding_dim} takes inputs (..., "
                             f"{self.embedding_dim}); received shape {tuple(inputs.shape)}.")

    def indices_shape(self, input_shape):
        """Shape of the indices of inputs of shape `input_shape`: one index per position."""
        return tuple(input_shape[:-1])

    def call(self, inputs, training=None):
        details = self.quantize_details(inputs, training=bool(training))
        self.add_loss(ops.mean(details["loss"]))
        if self.return_indices:
            return details["quantized"], details["indices"]
        return details["quantized"]

    def compute_output_shape(self, input_shape):
        if self.return_indices:
            return tuple(input_shape), self.indices_shape(input_shape)
        return tuple(input_shape)

    def compute_output_spec(self, inputs, training=None):
        quantized = keras.KerasTensor(inputs.shape, dtype="float32")
        if self.return_indices:
            return quantized, keras.KerasTensor(self.indices_shape(inputs.shape), dtype="int32")
        return quantized

    def get_config(self):
        return {**super().get_config(), "return_indices": self.return_indices}
