import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_docstring_example
from tfvae.layers import GatedPixelCNNBlock

rng = np.random.default_rng(0)


def _stack(num_blocks, shape, kernel_size=3):
    blocks = [GatedPixelCNNBlock(6, kernel_size, first=i == 0) for i in range(num_blocks)]

    def run(x):
        v, h, skips = x, x, 0.0
        for b in blocks:
            v, h, s = b([v, h])
            skips = skips + s
        return skips + h

    return run


def test_gated_stack_is_causal_and_has_no_blind_spot():
    h, w = 5, 5
    run = _stack(5, (h, w, 6))
    x = tf.Variable(rng.normal(size=(1, h, w, 6)).astype("float32"))
    for i in range(h):
        for j in range(w):
            with tf.GradientTape() as tape:
                y = tf.reduce_sum(run(x)[0, i, j])
            influence = np.any(tape.gradient(y, x).numpy()[0] != 0, axis=-1).reshape(-1)
            position = i * w + j
            assert not np.any(influence[position:]), (i, j)  # nothing at or after (i, j)
            assert np.all(influence[:position]), (i, j)  # everything before, above-right included


def test_conditioning_label_changes_the_output():
    block = GatedPixelCNNBlock(4, 3, first=True, num_classes=3)
    x = rng.normal(size=(2, 4, 4, 4)).astype("float32")
    a = block([x, x, np.eye(3, dtype="float32")[[0, 0]]])[1].numpy()
    b = block([x, x, np.eye(3, dtype="float32")[[2, 2]]])[1].numpy()
    assert not np.allclose(a, b)


def test_vertical_and_horizontal_compose_to_call():
    block = GatedPixelCNNBlock(4, 3)
    x = rng.normal(size=(2, 4, 5, 4)).astype("float32")
    v_out, h_out, skip = block([x, x])
    v2, feed = block.vertical(x)
    # The horizontal stack works row by row: one row with its feed row gives that row of the full output.
    h_row, s_row = block.horizontal(x[:, 2:3], feed[:, 2:3])
    np.testing.assert_allclose(v2.numpy(), v_out.numpy(), atol=1e-6)
    np.testing.assert_allclose(h_row.numpy(), h_out.numpy()[:, 2:3], atol=1e-5)
    np.testing.assert_allclose(s_row.numpy(), skip.numpy()[:, 2:3], atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [(dict(filters=0), "filters"), (dict(kernel_size=2), "kernel_size"),
                                           (dict(num_classes=1), "num_classes")])
def test_rejects_bad_arguments(kwargs, match):
    args = dict(filters=4)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        GatedPixelCNNBlock(**args)


def test_config_and_keras_file_round_trip(tmp_path):
    block = GatedPixelCNNBlock(4, 5, first=True, num_classes=2, name="g")
    assert GatedPixelCNNBlock.from_config(block.get_config()).get_config() == block.get_config()
    x_in, y_in = keras.Input((4, 4, 3)), keras.Input((2,))
    v, h, s = block([x_in, x_in, y_in])
    model = keras.Model([x_in, y_in], [v, h, s])
    x = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    y = np.eye(2, dtype="float32")
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    for a, b in zip(loaded([x, y]), model([x, y])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_the_docstring_example_runs():
    assert run_docstring_example(GatedPixelCNNBlock) >= 5
