"""The base of tfvae's models: an ordinary `keras.Model` on Keras' documented hooks.

Every model overrides `train_step`, `test_step`, `predict_step`, `call`,
`metrics` and `get_config`, and nothing of Keras' entry points: `fit`,
`evaluate`, `predict` and the `*_on_batch` methods are Keras' own, so
callbacks, `tf.distribute`, `.keras` files and `ExportArchive` work as Keras
documents them. The one private hook touched, for multi-worker training, is
in `tfvae/_compat.py` (`ModelInternals`), gated and tested there.

`compile` resolves two defaults with public API, as keras-hub's tasks do:
`jit_compile="auto"` becomes the model's measured `jit_compile_default`
(docs/benchmarks.md, "XLA on CPU") on one device and False under several replicas (XLA
cannot reach variables on other devices); `steps_per_execution` keeps Keras'
default of 1.

Input checks: shapes and dtypes are checked when a step is traced and raise
`ValueError`; values (NaN/Inf, range, labels) are checked inside the step by
`tf.debugging.Assert`, which stops `fit`/`evaluate`/`predict` with Keras'
`tf.errors.InvalidArgumentError` whose message holds tfvae's sentence (after
"assertion failed:"). XLA removes `Assert` ops, so a model compiled with XLA
checks no values inside its steps: `jit_compile="auto"` therefore chooses XLA
only for models that are not validating (`validate_inputs=False`), and an
explicit `jit_compile=True` with validation on warns.
"""

import contextlib
import warnings

import keras
import tensorflow as tf
from keras import ops

from tfvae._checks import VALUE_RANGES, check_jit_compile, check_positive_int
from tfvae._compat import ModelInternals, reducible_step_results


class BaseModel(ModelInternals):
    """`keras.Model` with what tfvae's models share: compile defaults, the step's loss reduction, metrics, the
    value range and shape of their images, and the (de)serialisation of nested Keras objects.

    Subclasses set `jit_compile_default` (what `jit_compile="auto"` means on one device without input
    validation), `value_range` and `_image_shape`, and list the attributes holding Keras objects (encoder,
    decoder, quantizer, ...) in `_nested`.
    """

    # Attributes that are Keras objects, serialised in get_config and rebuilt in from_config.
    _nested = ()
    # What jit_compile="auto" means on one device without input validation; measured per model.
    jit_compile_default = False
    # "unit" or "centered" for models of images (set from their argument); None for models of codes.
    value_range = None
    # Whether steps check their inputs' values (models with a `validate_inputs` argument set it).
    validate_inputs = False
    # The seed of the noise `test_step` draws (reparameterisation, prior draws): a fixed seed of its own,
    # so that evaluation does not consume the training stream (fit with and without validation_data trains
    # the same weights) and gives the same figures for the same data.
    evaluation_seed = 20_231_130
    # Arguments renamed since tfvae 0.1: {old name: (new name, {old value: new value})}. `__init__` takes
    # the old name with a DeprecationWarning (`_renamed`); configs of tfvae 0.1's `.keras` files are
    # translated silently in `from_config`.
    _renamed_arguments = {}

    def compile(self, *args, jit_compile="auto", steps_per_execution=1, **kwargs):
        """`keras.Model.compile`, with `jit_compile="auto"` resolved by tfvae.

        Args:
            *args: `keras.Model.compile`'s (`optimizer`, ...).
            jit_compile: bool or "auto". "auto": XLA where it measured faster
                for this model on CPU (`jit_compile_default`), on one device,
                and only when `validate_inputs=False` (XLA removes the in-graph
                value checks). True with validation on compiles with XLA and
                warns that values go unchecked.
            steps_per_execution: int >= 1. Keras' own: training steps per call
                into TensorFlow (1, Keras' default). Larger counts speed up
                small models; Keras then calls batch-level callbacks once per
                execution with the index of its last batch (docs/training.md, "Steps per
                execution").
            **kwargs: `keras.Model.compile`'s (`loss`, `metrics`, ...).
        """
        steps_per_execution = check_positive_int(steps_per_execution, "steps_per_execution")
        # Saved as given: "auto" is resolved again on loading.
        self._jit_compile_argument = jit_compile = check_jit_compile(jit_compile)
        if jit_compile == "auto":
            jit_compile = (bool(self.jit_compile_default) and not self.validate_inputs
                           and self.distribute_strategy.num_replicas_in_sync == 1)
        elif jit_compile and self.validate_inputs:
            warnings.warn(
                f"{type(self).__name__}: jit_compile=True removes the value checks inside the steps (XLA drops "
                "tf.debugging.Assert): NaN, out-of-range pixels or labels pass silently. Check the data first, "
                "or compile with jit_compile='auto' to keep them.", stacklevel=2)
        super().compile(*args, jit_compile=jit_compile, steps_per_execution=steps_per_execution, **kwargs)
        if self.built:
            # Optimizer variables made up front: a step whose first trace fails would otherwise leave
            # half-made ones behind, and a `.keras` file's optimizer state loads into existing variables.
            with self.distribute_strategy.scope():
                for optimizer, variables in self._optimizer_variables():
                    if not optimizer.built:
                        optimizer.build(variables)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and getattr(self, "_jit_compile_argument", None) == "auto":
            config = {**config, "jit_compile": "auto"}
        return config

    def compile_from_config(self, config):
        # Keras skips models whose compile is overridden; ours takes Keras' arguments.
        config = {k: keras.saving.deserialize_keras_object(v) if isinstance(v, dict) else v
                  for k, v in config.items()}
        if config.get("steps_per_execution") == "auto":
            # Written by tfvae 0.1, whose compile took "auto" for both and saved jit_compile resolved.
            config["steps_per_execution"] = 1
            if config.get("jit_compile") == bool(self.jit_compile_default):
                config["jit_compile"] = "auto"
        self.compile(**config)

    # ------------------------------------------------------------- the step
    # Every model's train_step is: per-example terms under a tape, then
    # `_minimize` with the global batch size from `check_replica_batch`. Losses
    # are sums over this replica's examples divided by the global batch size, so
    # that summed over replicas (what the optimizer does with gradients under
    # tf.distribute) they are the mean over the global batch, also when replicas
    # get batches of different sizes.
    def _minimize(self, tape, per_example_objective, global_batch_size, optimizer=None, variables=None,
                  layer_losses=None):
        """Applies the gradient of the global-batch mean of `per_example_objective` (plus layer losses).

        By default with `self.optimizer` to all trainable variables and all layer
        losses; a model with several optimizers (the adversarial autoencoder)
        names the optimizer, its variables and the layer losses that go with them.
        """
        variables = self.trainable_variables if variables is None else variables
        self._minimize_parts(tape, [(per_example_objective, variables)], global_batch_size, optimizer, layer_losses)

    def _minimize_parts(self, tape, parts, global_batch_size, optimizer=None, layer_losses=None):
        """One optimizer step in which each `(per_example_objective, variables)` of `parts` gives the gradient of
        its own variables (an estimator may use another surrogate for some weights, as DReG does for the
        encoder's); the layer losses add to every part, so each variable gets their gradient once."""
        optimizer = self.optimizer if optimizer is None else optimizer
        layer_losses = self.losses if layer_losses is None else layer_losses
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        scaled = []
        for per_example_objective, variables in parts:
            loss = ops.sum(per_example_objective) / global_batch_size
            if layer_losses:
                # Layer losses (regularisers) are one value per replica: their share of the sum.
                loss = loss + ops.sum(layer_losses) / replicas
            scaled.append((optimizer.scale_loss(loss), variables))
        all_grads, all_variables = [], []
        # The losses are recorded above, within the caller's tape context; the gradients are not: the persistent
        # tape that several parts need would otherwise record the first gradient's ops too, for nothing (a
        # tape of one part is not persistent and stops recording at its one gradient).
        with tape.stop_recording() if len(scaled) > 1 else contextlib.nullcontext():
            for loss, variables in scaled:
                all_grads += list(tape.gradient(loss, variables))
                all_variables += list(variables)
        optimizer.apply_gradients(zip(all_grads, all_variables))

    def _optimizer_variables(self):
        """`[(optimizer, variables it updates)]`: what `compile` builds."""
        return [(self.optimizer, self.trainable_variables)]

    def _report(self, **per_example):
        """Updates the `Mean` trackers named by the keywords with per-example values `(batch,)`.

        A `keras.metrics.Mean` given a vector accumulates its sum and its count, so
        the figure of an epoch or an evaluation is the mean over all its examples,
        not the mean of per-batch means (which overweights a short last batch).
        """
        trackers = {m.name: m for m in self.metrics}
        for name, values in per_example.items():
            trackers[name].update_state(values)
        return self._metric_results()

    @property
    def value_bounds(self):
        """`(low, high)` of the images the model takes and gives: (0, 1) for `value_range="unit"`,
        (-0.5, 0.5) for "centered" (the keras.io convention); None for a model of codes (the prior)."""
        return None if self.value_range is None else VALUE_RANGES[self.value_range]

    @property
    def image_shape(self):
        """Shape of one image, e.g. `(28, 28, 1)`."""
        return self._image_shape

    def _nested_config(self):
        return {key: keras.saving.serialize_keras_object(getattr(self, key)) for key in self._nested}

    @classmethod
    def _renamed(cls, old, old_value, value, warn=True):
        """The value of the argument `old` was renamed to: `value`, or `old_value` (given as `old=`) translated.

        Raises `ValueError` if both are given; warns (DeprecationWarning) when the old name is used, unless
        `warn` is False (configs of tfvae 0.1's files, which users do not write).
        """
        new, values = cls._renamed_arguments[old]
        if old_value is None:
            return value
        if value is not None:
            raise ValueError(f"{cls.__name__}: give `{new}` only; received {new}={value!r} and the deprecated "
                             f"{old}={old_value!r}.")
        value = values.get(old_value, old_value) if isinstance(old_value, str) else old_value
        if warn:
            warnings.warn(f"{cls.__name__}: `{old}=` is deprecated and will be removed in tfvae 0.3; use "
                          f"`{new}={value!r}`.", DeprecationWarning, stacklevel=3)
        return value

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for old, (new, _) in cls._renamed_arguments.items():
            if old in config:
                config[new] = cls._renamed(old, config.pop(old), config.get(new), warn=False)
        for key in cls._nested:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def _metric_results(self):
        """What train_step/test_step return: `{name: value}` of the `metrics` trackers."""
        return reducible_step_results({m.name: m.result() for m in self.metrics})


def renamed_attribute(old, new, old_values):
    """A read-only property `old` giving the attribute `new` in tfvae 0.1's terms, with a DeprecationWarning.

    Args:
        old: str. tfvae 0.1's attribute name (e.g. "reconstruction").
        new: str. Today's attribute (e.g. "likelihood").
        old_values: dict. {today's name of a value: tfvae 0.1's}.
    """

    def getter(self):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated and will be removed in tfvae 0.3; use "
                      f"`.{new}`.", DeprecationWarning, stacklevel=2)
        value = str(getattr(self, new))
        return old_values.get(value, value)

    return property(getter, doc=f"Deprecated: tfvae 0.1's name of `{new}`.")
