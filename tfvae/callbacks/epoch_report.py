"""One line per epoch: the chosen metrics on training and validation data."""

import keras


class EpochReport(keras.callbacks.Callback):
    """Prints one line per epoch: the chosen metrics on training and test data.

    Args:
        total_epochs: int. For "epoch i/n".
        metrics: dict. Metric name -> label, e.g. {"loss": "-ELBO"}.
        unit: str. Appended to the line.
        printer: callable. Where lines go.
    """

    def __init__(self, total_epochs, metrics=None, unit=" nats", printer=print):
        super().__init__()
        self.total_epochs = total_epochs
        self.metrics_to_print = metrics or {"loss": "-ELBO"}
        self.unit = unit
        self.printer = printer

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        parts = []
        for prefix, split in (("", "train"), ("val_", "test")):
            shown = [f"{label} {logs[prefix + name]:.4g}" for name, label in self.metrics_to_print.items()
                     if prefix + name in logs]
            if shown:
                parts.append(f"{split} " + ", ".join(shown))
        self.printer(f"epoch {epoch + 1}/{self.total_epochs}: " + "; ".join(parts) + self.unit, flush=True)
