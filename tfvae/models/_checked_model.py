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
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tfvae._checks import VALUE_RANGES, check_replica_split, translate_input_errors
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
    # "unit" or "centered" for models of images (set from their argument); None for models of codes.
    value_range = None

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
        if getattr(self, "validate_inputs", False) and self.jit_compile:
            args, kwargs = _prechecked(self, name, args, kwargs)
        # Optimizer variables made inside a step that then fails would leave the
        # compiled step unusable: make them up front.
        if name in ("fit", "train_on_batch") and getattr(self, "optimizer", None) is not None:
            for optimizer, variables in self._optimizer_variables():
                if not optimizer.built:
                    with self.distribute_strategy.scope():  # the model's strategy, if it was built under one
                        optimizer.build(variables)
        try:
            with translate_input_errors():
                return base(*args, **kwargs)
        except Exception:
            # A step whose trace failed stays cached and broken; the next call must retrace.
            self.train_function = self.test_function = self.predict_function = None
            raise


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
