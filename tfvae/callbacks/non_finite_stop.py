"""Stop training at the first non-finite metric, saying where."""

import math

import keras


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or Inf loss or metric."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` at the first batch whose loss or metric is NaN/Inf.

    The message names the epoch, the step within it, the global step and the
    metrics that went bad. Raising (rather than letting `fit` finish) keeps the
    epoch from ending, so no checkpoint of the broken weights is written and the
    last checkpoint stays the last good one.
    """

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float)) and not math.isfinite(v)}
        bad.update({k: float(v) for k, v in (logs or {}).items()
                    if not isinstance(v, (int, float)) and hasattr(v, "__float__") and not math.isfinite(float(v))})
        if bad:
            step = int(self.model.optimizer.iterations.numpy())
            epoch = getattr(self, "_epoch", 0)
            names = ", ".join(f"{k} = {v}" for k, v in sorted(bad.items()))
            raise NonFiniteLossError(
                f"Training stopped: non-finite {names} at epoch {epoch + 1}, step {batch + 1} (global step {step}). "
                "Lower the learning rate or check the data; the last checkpoint (if any) is from before this epoch."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
