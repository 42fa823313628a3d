"""tfvae/_compat.py: the Keras and TensorFlow behaviours its workarounds rely on are still there.

Each test here fails when Keras or TensorFlow changes what a workaround in
`tfvae/_compat.py` depends on (a private name renamed, a hook no longer
called, an upstream bug fixed): then the workaround must be revisited and
`TESTED_KERAS` extended, rather than left to stop working in silence.
"""

import inspect

import keras
import numpy as np
import tensorflow as tf

import tfvae
from tfvae import _compat


def test_keras_is_a_tested_version():
    assert _compat.KERAS_VERSION in _compat.TESTED_KERAS, (
        f"Keras {keras.__version__} is not among the tested {_compat.TESTED_KERAS}: check each workaround in "
        "tfvae/_compat.py against it, then add it."
    )


class Recording(keras.Model):
    """A plain keras.Model (no tfvae) that records calls of the private hook tfvae overrides."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.calls = []

    def call(self, x):
        return self.dense(x)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        self.calls.append({"iterator": iterator, "data_batch": data_batch})
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


def test_keras_fit_calls_the_symbolic_build_hook():
    # Workaround 2: the hook still exists with this signature and fit still calls it.
    assert list(inspect.signature(keras.Model._maybe_symbolic_build).parameters) == [
        "self", "iterator", "data_batch"]
    model = Recording()
    model.compile("sgd", "mse")
    x = np.zeros((4, 3), np.float32)
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    assert model.calls and model.calls[0]["iterator"] is not None


def test_the_multi_worker_probe_exists_and_is_false_on_one_worker():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert callable(strategy.extended._in_multi_worker_mode)
    assert _compat.in_multi_worker_mode(strategy) is False
    assert _compat.in_multi_worker_mode(tf.distribute.get_strategy()) is False


def test_strategy_reduce_on_axis_0_still_rejects_scalars():
    """tensorflow/tensorflow#72388: once this passes, `reducible_step_results` can go."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    try:
        strategy.reduce("MEAN", tf.constant(1.0), axis=0)
    except ValueError as e:
        assert "0 dimensions" in str(e)
    else:
        raise AssertionError("strategy.reduce now accepts scalars on axis 0: drop reducible_step_results")
    # What the workaround gives instead reduces to the scalar itself.
    reshaped = _compat.reducible_step_results({"loss": tf.constant(2.5)})
    assert float(tf.reshape(reshaped["loss"], [])) == 2.5


def test_keras_reduces_step_results_on_axis_0_under_several_workers():
    from keras.src.backend.tensorflow import trainer

    source = inspect.getsource(trainer)
    assert 'strategy.reduce("MEAN", v, axis=0)' in source
    assert "_in_multi_worker_mode()" in source


def test_stateful_keras_callbacks_still_reset_the_state_tfvae_saves():
    # Workaround 3: EarlyStopping and ReduceLROnPlateau keep their state in these
    # attributes and reset it in on_train_begin, so a resume must set it back after.
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    for callback in (keras.callbacks.EarlyStopping(patience=3), keras.callbacks.ReduceLROnPlateau(patience=3)):
        callback.set_model(model)
        callback.on_train_begin()
        saved = _compat.callback_state(callback)
        assert set(saved) >= {"wait", "best"}, type(callback).__name__
        _compat.restore_callback_state(callback, {**saved, "wait": 2, "best": 0.5})
        assert _compat.callback_state(callback)["wait"] == 2
        callback.on_train_begin()
        assert _compat.callback_state(callback) == saved  # reset: the state is gone unless restored


def test_seed_generator_states_are_found_by_their_keras_path():
    # Workaround 4: SeedGenerator states are variables named "seed_generator_state".
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5, seed=1), keras.layers.Dense(2)])
    states = _compat.seed_generator_states(model)
    assert len(states) == 1 and tuple(states[0].shape) == (2,)
    vae = tfvae.VAE.mlp((4, 4, 1), 2, hidden_units=(8,), seed=3)
    assert len(_compat.seed_generator_states(vae)) == 1
