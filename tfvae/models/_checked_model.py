"""Private base of tfvae's models: input errors surface as `ValueError`.

Value checks inside a compiled step are `tf.debugging.Assert` ops, which fail with
`InvalidArgumentError` and a graph dump; the entry points below rewrite our own
assertions into a plain `ValueError` with the message alone.

XLA drops `Assert` ops. Under `jit_compile=True` the entry points therefore run
the same checks before the data reach the step: eagerly on arrays and tensors,
and as a `map` over a `tf.data.Dataset` (tf.data is never XLA-compiled). Only
other inputs (generators, `PyDataset`) then go unchecked, with a warning.

`jit_compile="auto"` is each model's `jit_compile_default`, the faster on CPU as
measured by `benchmarks/bench_throughput.py`, and False whenever a strategy
runs several replicas (XLA cannot reach variables on other devices).

`steps_per_execution="auto"` (tfvae's default) runs up to
`steps_per_execution_default` training steps per call into TensorFlow, which
puts `fit` ahead of hand-written trainers on small models
(`benchmarks/bench_trainers.py`).
Keras 3.15 runs whole executions even past `steps_per_epoch` (an epoch of 7
steps at 5 per execution trains 10), so "auto" takes, for each `fit` and
`evaluate`, the largest count up to the default that divides the step counts
of the call, and an explicit count that does not divide them is refused.
"""

import inspect
import math
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae._checks import VALUE_RANGES, check_positive_int, check_replica_split, translate_input_errors
from tfvae._compat import ModelInternals, reducible_step_results


class CheckedModel(ModelInternals):
    """`keras.Model` whose training and inference entry points report bad input as `ValueError`.

    Also shared by the models: `image_shape`, and the (de)serialisation of the
    nested Keras objects named in `_nested` (encoder, decoder, quantizer).
    """

    # Attributes that are Keras objects, serialised in get_config and rebuilt in from_config.
    _nested = ()
    # What jit_compile="auto" means on one device; set per model from benchmarks/RESULTS.md.
    jit_compile_default = False
    # The most steps per execution under steps_per_execution="auto" on one device.
    steps_per_execution_default = 16
    # "unit" or "centered" for models of images (set from their argument); None for models of codes.
    value_range = None
    # The count "auto" resolved to at compile (None: an explicit count).
    _auto_steps_per_execution = None
    # True while `fit` runs (its validation calls `evaluate`).
    _fitting = False

    def _check_step_data(self, data, who):
        """The value checks of a step's data (a tuple as Keras passes it); returns checked tensors."""
        raise NotImplementedError

    def _checked_dataset(self, dataset, who):
        def check(*batch):
            checked = self._check_step_data(batch, who)
            with tf.control_dependencies([t for t in tf.nest.flatten(checked) if tf.is_tensor(t)]):
                out = tuple(tf.identity(t) for t in batch)
            return out[0] if len(out) == 1 else out

        return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def _checked_input(self, x, y, who):
        """x (and y) with their values checked up front, for steps where XLA drops the checks."""
        if isinstance(x, tf.data.Dataset):
            return self._checked_dataset(x, who)
        if isinstance(x, (np.ndarray, tf.Tensor)):
            self._check_step_data((x,) if y is None else (x, y), who)  # eager: raises ValueError at once
        elif x is not None:
            warnings.warn(f"{who}: under jit_compile=True the values of a {type(x).__name__} cannot be "
                          "checked (XLA removes the in-graph checks); pass arrays or a tf.data.Dataset.",
                          stacklevel=4)
        return x

    # ---------------------------------------------------------- compilation
    def compile(self, *args, steps_per_execution="auto", **kwargs):
        """`keras.Model.compile`, with `steps_per_execution="auto"` as the default.

        Args:
            *args: `keras.Model.compile`'s (`optimizer`, ...).
            steps_per_execution: int, or "auto": up to
                `steps_per_execution_default` (16) steps per call into
                TensorFlow on one device, 1 under a strategy with several
                replicas; each `fit` and `evaluate` then takes the largest count
                up to that which divides its `steps_per_epoch`,
                `validation_steps` or `steps` (so epochs keep their exact
                length), and 1 when a callback asks for every step
                (`requires_single_steps = True`, as
                `tfvae.callbacks.BetaSchedule(per_step=True)` does). As in
                Keras, batch-level callbacks run once per execution.
            **kwargs: `keras.Model.compile`'s (`jit_compile`, ...).
        """
        if steps_per_execution == "auto":
            replicas = self.distribute_strategy.num_replicas_in_sync
            self._auto_steps_per_execution = self.steps_per_execution_default if replicas == 1 else 1
            steps_per_execution = self._auto_steps_per_execution
        else:
            self._auto_steps_per_execution = None
            steps_per_execution = check_positive_int(steps_per_execution, "steps_per_execution")
        super().compile(*args, steps_per_execution=steps_per_execution, **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and self._auto_steps_per_execution is not None:
            config = {**config, "steps_per_execution": "auto"}
        return config

    def compile_from_config(self, config):
        # Keras skips models whose compile is overridden; ours takes Keras' arguments.
        config = {k: keras.saving.deserialize_keras_object(v) if isinstance(v, dict) else v
                  for k, v in config.items()}
        self.compile(**config)
        if self.built:
            # Optimizer state is loaded into existing variables: make them.
            for optimizer, variables in self._optimizer_variables():
                optimizer.build(variables)

    def _set_steps_per_execution(self, name, base, args, kwargs):
        """Chooses (auto) or checks (explicit) the steps per execution of a `fit`/`evaluate` call."""
        if name not in ("fit", "evaluate") or not getattr(self, "compiled", False) or self._fitting:
            return  # (fit's own validation runs through evaluate: fit has counted its steps)
        try:
            call = inspect.signature(base).bind_partial(*args, **kwargs).arguments
        except TypeError:
            return  # Keras reports the bad arguments itself
        if name == "fit":
            counts = {"steps_per_epoch": call.get("steps_per_epoch")}
            if call.get("validation_data") is not None or call.get("validation_split"):
                counts["validation_steps"] = call.get("validation_steps")
        else:
            counts = {"steps": call.get("steps")}
        cap = keras.config.max_steps_per_epoch()  # Keras' debugging limit applies to every epoch
        counts = {k: min(c for c in (v, cap) if c) for k, v in counts.items() if v or cap}
        auto = self._auto_steps_per_execution
        if auto is None:
            bad = {k: v for k, v in counts.items() if v % self.steps_per_execution}
            if bad:
                given = ", ".join(f"{k}={v}" for k, v in bad.items())
                raise ValueError(
                    f"{type(self).__name__}.{name}: {given} is not a multiple of steps_per_execution="
                    f"{self.steps_per_execution}; Keras would run whole executions past it. Compile with "
                    "steps_per_execution='auto' (the default) or a count that divides it.")
            return
        callbacks = call.get("callbacks") or []
        if name == "fit" and any(getattr(c, "requires_single_steps", False) for c in callbacks):
            steps = 1
        else:
            common = math.gcd(*counts.values()) if counts else 0
            steps = max(d for d in range(1, auto + 1) if common % d == 0) if common else auto
        if steps != self.steps_per_execution:
            self.steps_per_execution = steps
            self.train_function = self.test_function = None  # traced for the previous count

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
        optimizer = self.optimizer if optimizer is None else optimizer
        variables = self.trainable_variables if variables is None else variables
        layer_losses = self.losses if layer_losses is None else layer_losses
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = ops.sum(per_example_objective) / global_batch_size
        if layer_losses:
            # Layer losses (regularisers) are one value per replica: their share of the sum.
            loss = loss + ops.sum(layer_losses) / replicas
        loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))

    def _optimizer_variables(self):
        """`[(optimizer, variables it updates)]`: what `fit` builds before the first step."""
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
    def from_config(cls, config):
        config = dict(config)
        for key in cls._nested:
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def _metric_results(self):
        """What train_step/test_step return: `{name: value}` of the `metrics` trackers."""
        return reducible_step_results({m.name: m.result() for m in self.metrics})

    # ------------------------------------------------------- the entry points
    # Keras' own, run through `_entry` so that our input errors surface as
    # ValueError (see the module docstring); arguments and results are Keras'.
    def fit(self, *args, **kwargs):
        """`keras.Model.fit`; input errors (shape, dtype, range, NaN) raise `ValueError`."""
        return self._entry("fit", super().fit, args, kwargs)

    def evaluate(self, *args, **kwargs):
        """`keras.Model.evaluate`; input errors raise `ValueError`."""
        return self._entry("evaluate", super().evaluate, args, kwargs)

    def predict(self, *args, **kwargs):
        """`keras.Model.predict`; input errors raise `ValueError`."""
        return self._entry("predict", super().predict, args, kwargs)

    def train_on_batch(self, *args, **kwargs):
        """`keras.Model.train_on_batch`; input errors raise `ValueError`."""
        return self._entry("train_on_batch", super().train_on_batch, args, kwargs)

    def test_on_batch(self, *args, **kwargs):
        """`keras.Model.test_on_batch`; input errors raise `ValueError`."""
        return self._entry("test_on_batch", super().test_on_batch, args, kwargs)

    def predict_on_batch(self, *args, **kwargs):
        """`keras.Model.predict_on_batch`; input errors raise `ValueError`."""
        return self._entry("predict_on_batch", super().predict_on_batch, args, kwargs)

    def _entry(self, name, base, args, kwargs):
        _check_split_up_front(self, name, args, kwargs)
        self._set_steps_per_execution(name, base, args, kwargs)
        if getattr(self, "validate_inputs", False) and self.jit_compile:
            args, kwargs = _prechecked(self, name, args, kwargs)
        # Optimizer variables made inside a step that then fails would leave the
        # compiled step unusable: make them up front.
        if name in ("fit", "train_on_batch") and getattr(self, "optimizer", None) is not None:
            for optimizer, variables in self._optimizer_variables():
                if not optimizer.built:
                    with self.distribute_strategy.scope():  # the model's strategy, if it was built under one
                        optimizer.build(variables)
        outermost = not self._fitting
        self._fitting = self._fitting or name == "fit"
        try:
            with translate_input_errors():
                return base(*args, **kwargs)
        except Exception:
            # A step whose trace failed stays cached and broken; the next call must retrace.
            self.train_function = self.test_function = self.predict_function = None
            raise
        finally:
            if outermost:
                self._fitting = False


# Entry point -> (step it feeds, whether its second argument is y).
_STEP = {"fit": ("fit", True), "train_on_batch": ("fit", True), "evaluate": ("evaluate", True),
         "test_on_batch": ("evaluate", True), "predict": ("predict", False), "predict_on_batch": ("predict", False)}


def _prechecked(model, name, args, kwargs):
    """Arguments of entry point `name` with x (and validation data) checked up front."""
    step, takes_y = _STEP[name]
    who = f"{type(model).__name__}.{step}"
    args = list(args)
    x = args[0] if args else kwargs.get("x")
    y = (args[1] if len(args) > 1 else kwargs.get("y")) if takes_y else None
    x = model._checked_input(x, y, who)
    if args:
        args[0] = x
    elif "x" in kwargs:
        kwargs["x"] = x
    validation = kwargs.get("validation_data") if name == "fit" else None
    if validation is not None:
        who = f"{type(model).__name__}.evaluate"
        if isinstance(validation, (tuple, list)):
            model._checked_input(validation[0], validation[1] if len(validation) > 1 else None, who)
        else:
            kwargs["validation_data"] = model._checked_input(validation, None, who)
    return args, kwargs


def _check_split_up_front(model, name, args, kwargs):
    """Under several replicas, refuses arrays whose last batch would leave a replica empty, before any step runs."""
    replicas = model.distribute_strategy.num_replicas_in_sync
    if replicas == 1 or name not in ("fit", "evaluate"):
        return
    x = args[0] if args else kwargs.get("x")
    if isinstance(x, (tuple, list)) and x:
        x = x[0]
    if isinstance(x, (np.ndarray, tf.Tensor)):
        batch_size = kwargs.get("batch_size") or (args[2] if len(args) > 2 else None) or 32
        check_replica_split(int(x.shape[0]), int(batch_size), replicas, f"{type(model).__name__}.{name}")
