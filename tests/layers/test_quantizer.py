"""The shared quantizer interface: return_indices for every quantizer, shapes in functional models, a user's own."""

import keras
import numpy as np
import pytest
from keras import ops

import tfvae
from tfvae.layers import (
    FiniteScalarQuantizer,
    LookupFreeQuantizer,
    Quantizer,
    ResidualVectorQuantizer,
    VectorQuantizer,
    VectorQuantizerEMA,
)
from tfvae.models import networks

rng = np.random.default_rng(31)

MAKERS = {
    "vq": lambda **kw: VectorQuantizer(16, 4, seed=0, **kw),
    "ema": lambda **kw: VectorQuantizerEMA(16, 4, seed=0, **kw),
    "fsq": lambda **kw: FiniteScalarQuantizer((4, 2, 3, 3), **kw),
    "lfq": lambda **kw: LookupFreeQuantizer(4, **kw),
    "rvq": lambda **kw: ResidualVectorQuantizer(3, 16, 4, seed=0, **kw),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_return_indices_in_a_functional_model_and_after_a_round_trip(kind, tmp_path):
    layer = MAKERS[kind](return_indices=True)
    assert isinstance(layer, Quantizer)
    inputs = keras.Input((5, 5, 4))
    quantized, indices = layer(inputs)
    depth = (3,) if kind == "rvq" else ()
    assert tuple(quantized.shape) == (None, 5, 5, 4) and tuple(indices.shape) == (None, 5, 5, *depth)
    assert indices.dtype == "int32"
    model = keras.Model(inputs, [quantized, indices])
    x = rng.normal(size=(2, 5, 5, 4)).astype("float32")
    q, i = (t.numpy() for t in model(x))
    np.testing.assert_array_equal(i, layer.get_code_indices(x).numpy())
    np.testing.assert_allclose(q, layer.lookup(i).numpy(), atol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(x)[1].numpy(), i)
    assert type(loaded.layers[1]).from_config(layer.get_config()).return_indices


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_calling_adds_the_mean_auxiliary_loss(kind):
    layer = MAKERS[kind]()
    x = rng.normal(size=(3, 2, 2, 4)).astype("float32")
    layer(x, training=False)
    expected = float(np.mean(layer.quantize_details(x)["loss"].numpy()))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-6, atol=1e-7)


@keras.saving.register_keras_serializable(package="tfvae_test")
class _RoundingQuantizer(Quantizer):
    """A user's own quantizer: each of 2 dimensions rounded to {-1, 0, 1}; 9 codes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.num_embeddings, self.embedding_dim = 9, 2

    def quantize_details(self, inputs, training=False):
        z = ops.clip(ops.cast(inputs, "float32"), -1.0, 1.0)
        rounded = ops.round(z)
        return {"quantized": z + ops.stop_gradient(rounded - z), "indices": self.get_code_indices(inputs),
                "loss": ops.zeros((ops.shape(inputs)[0],))}

    def get_code_indices(self, inputs):
        digits = ops.cast(ops.round(ops.clip(ops.cast(inputs, "float32"), -1.0, 1.0)) + 1, "int32")
        return digits[..., 0] + 3 * digits[..., 1]

    def lookup(self, indices):
        return ops.cast(ops.stack([indices % 3, indices // 3], -1), "float32") - 1.0


def test_a_users_own_quantizer_trains_in_a_vqvae_and_round_trips(tmp_path):
    encoder = networks.vq_encoder((8, 8, 1), 2, hidden_filters=8, residual_filters=4, num_residual_blocks=1)
    decoder = networks.vq_decoder((8, 8, 1), 2, hidden_filters=8, residual_filters=4, num_residual_blocks=1)
    model = tfvae.VQVAE(encoder, decoder, _RoundingQuantizer())
    assert model.num_embeddings == 9 and model.grid_shape == (2, 2)
    x = (rng.random((16, 8, 8, 1)) < 0.4).astype("float32")
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(x, batch_size=8, epochs=1, verbose=0)
    codes = model.encode(x).numpy()
    assert codes.min() >= 0 and codes.max() < 9
    model.save(tmp_path / "own.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "own.keras").decode(codes).numpy(),
                               model.decode(codes).numpy(), atol=1e-6)


def test_the_base_refuses_to_quantize():
    with pytest.raises(NotImplementedError, match="quantize_details"):
        Quantizer()(np.zeros((1, 2), "float32"))


@pytest.mark.parametrize("kind", ["fsq", "lfq", "rvq"])
def test_inputs_of_another_width_are_refused_with_both_widths(kind):
    layer = MAKERS[kind]()
    with pytest.raises(ValueError, match=r"embedding_dim=4 takes inputs \(\.\.\., 4\); received shape \(2, 3\)"):
        layer.quantize_details(np.zeros((2, 3), "float32"))
