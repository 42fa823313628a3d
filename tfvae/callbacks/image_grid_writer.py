"""Sample and reconstruction grids during training, as PNG files and TensorBoard images."""

import os

import keras
import numpy as np

from tfvae.images import image_grid, interleave, save_png


class ImageGridWriter(keras.callbacks.Callback):
    """Every `every_n_epochs`, writes new samples and reconstructions of fixed images.

    Works with `VAE`, `ConditionalVAE` and `AdversarialAutoencoder` (samples and
    reconstructions) and with `VQVAE` and `Autoencoder` (reconstructions; a
    VQ-VAE's samples need a prior). Files are
    `samples_epoch_NNN.png` and `reconstructions_epoch_NNN.png` (each original
    beside its reconstruction) in `output_dir`; with `log_dir`, the same grids
    go to TensorBoard as images.

    Args:
        output_dir: str. Where PNGs go.
        images: array or None. Images to reconstruct (e.g. 16 test images).
        labels: array or None. Their labels, for conditional models.
        num_samples: int. New images per grid (0: none).
        every_n_epochs: int.
        seed: int. Sampling seed: the same latents every time, so grids show progress.
        log_dir: str or None. TensorBoard log folder.
    """

    def __init__(self, output_dir, images=None, labels=None, num_samples=64, every_n_epochs=1, seed=0, log_dir=None):
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"`every_n_epochs` must be >= 1; received every_n_epochs={every_n_epochs!r}.")
        self.output_dir = output_dir
        self.images = None if images is None else np.asarray(images, np.float32)
        self.labels = None if labels is None else np.asarray(labels)
        self.num_samples = int(num_samples)
        self.every_n_epochs = int(every_n_epochs)
        self.seed = seed
        self.log_dir = log_dir
        self._writer = None

    def _grids(self):
        model, grids = self.model, {}
        conditional = getattr(model, "num_classes", None) is not None
        if self.num_samples and callable(getattr(model, "sample", None)):
            labels = np.arange(self.num_samples) % model.num_classes if conditional else None
            grids["samples"] = model.sample(self.num_samples, labels=labels, seed=self.seed).numpy()
        if self.images is not None:
            recon = (
                model.reconstruct(self.images, self.labels) if conditional else model.reconstruct(self.images)
            ).numpy()
            grids["reconstructions"] = interleave(self.images, recon)
        return grids

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        import tensorflow as tf

        bounds = self.model.value_bounds
        for name, images in self._grids().items():
            save_png(os.path.join(self.output_dir, f"{name}_epoch_{epoch + 1:03d}.png"), images, columns=8,
                     value_range=bounds)
            if self.log_dir:
                if self._writer is None:
                    self._writer = tf.summary.create_file_writer(self.log_dir)
                with self._writer.as_default(step=epoch):
                    tf.summary.image(name, image_grid(images, columns=8, value_range=bounds)[None], max_outputs=1)
        if self._writer is not None:
            self._writer.flush()
