import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_docstring_example
from tfvae.layers import MaskedConv2D
from tfvae.layers.masked_conv2d import causal_mask

rng = np.random.default_rng(0)


def test_mask_patterns():
    np.testing.assert_array_equal(causal_mask(3, 3, "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask(3, 3, "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask(3, 3, "V"), [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask(1, 5, "A"), [[1, 1, 0, 0, 0]])


@pytest.mark.parametrize("kernel_size", [5, (1, 3), (1, 5), (3, 1), (7, 7), (5, 3), 1])
@pytest.mark.parametrize("mask_type", ["A", "B", "V"])
def test_cropped_kernel_gives_the_conv_with_the_masked_full_kernel(kernel_size, mask_type):
    """`call` convolves with the kept part of the kernel only; the result and the kernel's
    gradient are those of `tf.nn.conv2d` with the full kernel times the mask."""
    layer = MaskedConv2D(4, kernel_size, mask_type=mask_type)
    x = tf.constant(rng.normal(size=(2, 6, 7, 3)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        y = layer(x)
        mask = causal_mask(*layer.kernel_size, mask_type)[:, :, None, None]
        ref = tf.nn.conv2d(x, layer.kernel * mask, 1, "SAME") + layer.bias
        weights = tf.constant(rng.normal(size=y.shape).astype("float32"))
        loss, ref_loss = tf.reduce_sum(y * weights), tf.reduce_sum(ref * weights)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)
    grad, ref_grad = tape.gradient(loss, layer.kernel).numpy(), tape.gradient(ref_loss, layer.kernel).numpy()
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-4)
    assert np.all(grad * (1 - mask) == 0)
    # The weight keeps its full size and its masked entries; fewer of them are multiplied.
    assert layer.kernel.shape == (*layer.kernel_size, 3, 4)
    assert np.all(mask) or np.any(layer.kernel.numpy() * (1 - mask) != 0)
    assert layer.causal_kernel().shape[0] <= layer.kernel_size[0] // 2 + 1


def _dependence(model, shape):
    """d output(i, j) / d input: boolean (H, W, H, W) of non-zero influence."""
    x = tf.Variable(rng.normal(size=(1, *shape)).astype("float32"))
    h, w = shape[:2]
    out = np.zeros((h, w, h, w), bool)
    for i in range(h):
        for j in range(w):
            with tf.GradientTape() as tape:
                y = tf.reduce_sum(model(x)[0, i, j])
            out[i, j] = np.any(tape.gradient(y, x).numpy()[0] != 0, axis=-1)
    return out


def test_stack_of_masked_convolutions_never_sees_the_current_or_future_pixels():
    model = keras.Sequential([keras.Input((5, 5, 2)), MaskedConv2D(8, 3, mask_type="A", activation="relu"),
                              MaskedConv2D(8, 3, mask_type="B", activation="relu"), MaskedConv2D(3, 3, mask_type="B")])
    dep = _dependence(model, (5, 5, 2))
    for i in range(5):
        for j in range(5):
            future = np.zeros((5, 5), bool)
            future.reshape(-1)[i * 5 + j:] = True
            assert not np.any(dep[i, j] & future), (i, j)
    assert dep[2, 2, 1, 2] and dep[2, 2, 2, 1]  # directly above and left do influence


@pytest.mark.parametrize("kwargs, match", [(dict(mask_type="C"), "mask_type"), (dict(kernel_size=4), "odd"),
                                           (dict(padding="valid"), "same"), (dict(strides=2), "strides")])
def test_rejects_bad_arguments(kwargs, match):
    args = dict(filters=2, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**args)


def test_config_and_keras_file_round_trip(tmp_path):
    layer = MaskedConv2D(3, (1, 5), mask_type="A", name="m")
    assert MaskedConv2D.from_config(layer.get_config()).get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((4, 6, 2)), layer])
    x = rng.normal(size=(2, 4, 6, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras")(x).numpy(), model(x).numpy(), atol=1e-6)


def test_the_docstring_example_runs():
    assert run_docstring_example(MaskedConv2D) >= 4
