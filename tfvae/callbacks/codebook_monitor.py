"""Codebook health of VQ models, printed and written to TensorBoard."""

import keras


class CodebookMonitor(keras.callbacks.Callback):
    """Reports codebook usage, perplexity and dead-code restarts of a `VQVAE` each epoch.

    Usage and perplexity come from the epoch's metrics; restarts from the
    quantizer's counter (when it restarts dead codes). Adds "restarts" to the
    epoch logs, so `keras.callbacks.TensorBoard` and `History` see it too.

    Args:
        log_dir: str or None. Also write the three as TensorBoard scalars here.
        printer: callable or None. Where one line per epoch goes (None: silent).
    """

    def __init__(self, log_dir=None, printer=print):
        super().__init__()
        self.log_dir = log_dir
        self.printer = printer
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        logs = logs if logs is not None else {}
        quantizer = getattr(self.model, "quantizer", None)
        if quantizer is None:
            raise ValueError(f"CodebookMonitor needs a tfvae VQVAE; received {type(self.model).__name__}.")
        restarts = int(quantizer.restarts.numpy()) if hasattr(quantizer, "restarts") else 0
        logs["restarts"] = restarts
        usage, perplexity = logs.get("codebook_usage"), logs.get("perplexity")
        if self.printer:
            self.printer(f"codebook after epoch {epoch + 1}: usage {usage:.3f} of {quantizer.num_embeddings} codes, "
                         f"perplexity {perplexity:.1f}, restarts so far {restarts}")
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(self.log_dir)
            with self._writer.as_default(step=epoch):
                tf.summary.scalar("codebook/usage", usage)
                tf.summary.scalar("codebook/perplexity", perplexity)
                tf.summary.scalar("codebook/restarts", restarts)
            self._writer.flush()
