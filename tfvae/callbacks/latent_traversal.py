"""Latent traversals of Gaussian VAEs: one latent dimension varied at a time."""

import os

import keras
import numpy as np

from tfvae.images import save_png


class LatentTraversal(keras.callbacks.Callback):
    """Writes `traversal_epoch_NNN.png`: row d varies latent d of `image`'s posterior mean.

    Each row decodes the mean with dimension d set to `steps` values evenly
    spaced in [-limit, limit] (other dimensions fixed), showing what each
    latent controls (Higgins et al., *beta-VAE*, 2017).

    Args:
        output_dir: str.
        image: array `(H, W, C)`: the image whose latent is traversed.
        label: int or None. Its label, for conditional models.
        steps: int. Values per dimension.
        limit: float. Range of the traversal, in prior standard deviations.
        max_dims: int. Traverse at most this many dimensions.
        every_n_epochs: int.
    """

    def __init__(self, output_dir, image, label=None, steps=9, limit=3.0, max_dims=10, every_n_epochs=1):
        super().__init__()
        self.output_dir = output_dir
        self.image = np.asarray(image, np.float32)[None]
        self.label = label
        self.steps, self.limit, self.max_dims = int(steps), float(limit), int(max_dims)
        self.every_n_epochs = int(every_n_epochs)

    def traversal(self):
        labels = None if self.label is None else np.array([self.label])
        mean = self.model.encode(self.image, labels)[0].numpy()[0]
        dims = min(self.max_dims, mean.shape[0])
        values = np.linspace(-self.limit, self.limit, self.steps, dtype=np.float32)
        z = np.repeat(mean[None], dims * self.steps, axis=0)
        for d in range(dims):
            z[d * self.steps : (d + 1) * self.steps, d] = values
        decode_labels = None if self.label is None else np.full(len(z), self.label)
        return self.model.decode(z, decode_labels).numpy()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs == 0:
            save_png(os.path.join(self.output_dir, f"traversal_epoch_{epoch + 1:03d}.png"), self.traversal(),
                     columns=self.steps, value_range=self.model.value_bounds)
