"""The one place where tfvae touches Keras or TensorFlow internals.

Each workaround below relies on something private, so each is gated on the
Keras minor versions it was tested with (`TESTED_KERAS`), and
`tests/test_compat.py` checks, for each, that Keras still behaves in the way
it works around: a Keras upgrade that renames or fixes one of them fails
those tests instead of silently turning a workaround off. On an untested
Keras the workarounds still apply where the private names exist, with one
warning at import.

1. `reducible_step_results`: under several workers Keras 3 reduces step
   results with `strategy.reduce(MEAN, value, axis=0)`, which rejects scalars
   (tensorflow/tensorflow#72388); `strategy.extended._in_multi_worker_mode`
   is the only way to tell several workers from several local devices.
2. `ModelInternals._maybe_symbolic_build`: under any strategy Keras 3.15
   reduces one input batch across replicas to build missing state before
   training; with several workers that reduce fails on `(images, labels)`
   batches (a `PerReplica` it cannot convert). tfvae's models build their
   weights in `__init__` and their optimizers in `compile`, so the build is
   skipped when nothing is missing.
3. `callback_state` / `restore_callback_state`: Keras' stateful callbacks
   (`EarlyStopping`, `ReduceLROnPlateau`) reset their counters in
   `on_train_begin` and offer no way to save them; a resumed run restores the
   public-but-undocumented attributes named in `CALLBACK_STATE` after that
   reset.
4. `seed_generator_states`: the state variables of the `SeedGenerator`s in a
   model, found by the path Keras gives them (`.../seed_generator_state`),
   so that noise can be reseeded per epoch.
"""

import warnings

import keras
import tensorflow as tf
from keras import ops

TESTED_KERAS = ((3, 15),)
KERAS_VERSION = tuple(int(part) for part in keras.__version__.split(".")[:2])

if KERAS_VERSION not in TESTED_KERAS:
    warnings.warn(
        f"tfvae was tested with Keras {', '.join('%d.%d' % v for v in TESTED_KERAS)}; found Keras "
        f"{keras.__version__}. Multi-worker training and resumed callbacks rely on Keras internals "
        "(tfvae/_compat.py) that may have changed.",
        stacklevel=2,
    )


def in_multi_worker_mode(strategy):
    """Whether `strategy` spans several workers (not just several local devices)."""
    probe = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return bool(probe()) if probe is not None else False


def reducible_step_results(results):
    """Step results `{name: scalar}` in a form Keras can reduce under the current strategy.

    A length-1 axis reduces to the same scalar, the mean over replicas, as one
    worker gives.
    """
    if in_multi_worker_mode(tf.distribute.get_strategy()):
        return {name: ops.reshape(value, (1,)) for name, value in results.items()}
    return results


class ModelInternals(keras.Model):
    """The one private `keras.Model` hook tfvae's models override (see the module docstring)."""

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        nothing_to_build = (
            all(layer.built for layer in self._flatten_layers())
            and (self.optimizer is None or self.optimizer.built)
            and getattr(self, "_compile_metrics", None) is None
            and getattr(self, "_compile_loss", None) is None
        )
        if not nothing_to_build:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)


# Attributes of Keras' stateful callbacks that make up their state between epochs.
CALLBACK_STATE = ("wait", "best", "best_epoch", "stopped_epoch", "cooldown_counter")
SEED_STATE_NAME = "seed_generator_state"


def callback_state(callback):
    """The JSON-able state of `callback` (see `CALLBACK_STATE`); {} for a stateless one."""
    state = {}
    for name in CALLBACK_STATE:
        if not hasattr(callback, name):
            continue
        value = getattr(callback, name)
        if value is not None:
            value = float(value)
            value = int(value) if value.is_integer() and name != "best" else value
        state[name] = value
    return state


def restore_callback_state(callback, state):
    """Sets what `callback_state` saved; call after the callback's `on_train_begin`."""
    for name, value in state.items():
        if name in CALLBACK_STATE and hasattr(callback, name):
            setattr(callback, name, value)


def seed_generator_states(model):
    """The state variables of every `keras.random.SeedGenerator` tracked by `model`, in a fixed order."""
    return [v for v in model.variables if v.path.split("/")[-1] == SEED_STATE_NAME]
