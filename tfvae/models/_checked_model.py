"""Private base of tfvae's models: input errors surface as `ValueError`.

Value checks inside a compiled step are `tf.debugging.Assert` ops, which fail with
`InvalidArgumentError` and a graph dump; the entry points below rewrite our own
assertions into a plain `ValueError` with the message alone. XLA drops `Assert`,
so `jit_compile="auto"` means False here (shape and dtype checks run at trace time
either way); an explicit `jit_compile=True` is honoured with a warning.
"""

import functools
import warnings

import keras

from tfvae._checks import translate_input_errors


class CheckedModel(keras.Model):
    """`keras.Model` whose training and inference entry points report bad input as `ValueError`.

    Also shared by the models: `image_shape`, and the (de)serialisation of the
    nested Keras objects named in `_nested` (encoder, decoder, quantizer).
    """

    # Attributes that are Keras objects, serialised in get_config and rebuilt in from_config.
    _nested = ()

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

    def compile(self, optimizer="adam", *args, jit_compile="auto", **kwargs):
        if jit_compile == "auto":
            jit_compile = False
        elif jit_compile and getattr(self, "validate_inputs", False):
            warnings.warn(
                f"{type(self).__name__}: under jit_compile=True, XLA removes the in-graph value checks "
                "(NaN/Inf, value range, label range) of fit/evaluate; shape and dtype are still checked.",
                stacklevel=2,
            )
        super().compile(optimizer, *args, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        # Keras skips compile() on load for models that override it unless they
        # provide this; without it a reloaded model (a checkpoint) has no optimizer.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)  # so the saved optimizer state can load into it


def _translated(name):
    base = getattr(keras.Model, name)

    @functools.wraps(base)
    def method(self, *args, **kwargs):
        # Optimizer variables made inside a step that then fails would leave the
        # compiled step unusable: make them up front.
        if name in ("fit", "train_on_batch") and getattr(self, "optimizer", None) is not None:
            if not self.optimizer.built:
                with self.distribute_strategy.scope():  # the model's strategy, if it was built under one
                    self.optimizer.build(self.trainable_variables)
        try:
            with translate_input_errors():
                return base(self, *args, **kwargs)
        except Exception:
            # A step whose trace failed stays cached and broken; the next call must retrace.
            self.train_function = self.test_function = self.predict_function = None
            raise

    return method


for _name in ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch"):
    setattr(CheckedModel, _name, _translated(_name))
