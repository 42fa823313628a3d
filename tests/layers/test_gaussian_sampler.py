import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_docstring_example
from tfvae.layers import GaussianSampler


def test_samples_have_the_posterior_moments():
    mean = np.full((200_000, 2), [1.0, -2.0], "float32")
    log_var = np.full((200_000, 2), [np.log(0.25), np.log(4.0)], "float32")
    z = GaussianSampler(seed=3)([mean, log_var]).numpy()
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.02)
    np.testing.assert_allclose(z.std(0), [0.5, 2.0], rtol=0.01)


def test_reparameterised_gradients():
    mean = tf.Variable(np.zeros((5, 3), "float32"))
    log_var = tf.Variable(np.full((5, 3), 0.4, "float32"))
    with tf.GradientTape(persistent=True) as tape:
        z = GaussianSampler(seed=0)([mean, log_var])
    np.testing.assert_allclose(tape.gradient(z, mean).numpy(), 1.0)
    # dz/dlog_var = 0.5 * sigma * eps = 0.5 * (z - mean)
    np.testing.assert_allclose(tape.gradient(z, log_var).numpy(), 0.5 * (z.numpy() - 0.0), rtol=1e-6)


def test_same_seed_same_draws_and_successive_draws_differ():
    args = [np.zeros((4, 3), "float32"), np.zeros((4, 3), "float32")]
    a, b = GaussianSampler(seed=7), GaussianSampler(seed=7)
    first_a, first_b = a(args).numpy(), b(args).numpy()
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, a(args).numpy())


def test_config_round_trip():
    layer = GaussianSampler(seed=11, name="s")
    clone = GaussianSampler.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.seed == 11


@pytest.mark.parametrize("seed", [1.5, "1", True])
def test_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        GaussianSampler(seed=seed)


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        GaussianSampler()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])


def test_keras_file_keeps_the_noise_sequence(tmp_path):
    import keras

    mean, log_var = keras.Input((3,)), keras.Input((3,))
    model = keras.Model([mean, log_var], GaussianSampler(seed=5)([mean, log_var]))
    args = [np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")]
    model(args)
    model(args)  # advance the generator
    model.save(tmp_path / "s.keras")
    loaded = keras.saving.load_model(tmp_path / "s.keras")
    np.testing.assert_array_equal(loaded(args).numpy(), model(args).numpy())


def test_the_docstring_example_runs():
    assert run_docstring_example(GaussianSampler) >= 5
