"""Reseeds all randomness at the start of every epoch from (seed, epoch)."""

import zlib

import keras
import numpy as np

from tfvae import _compat
from tfvae.data import epoch_seed


class EpochSeed(keras.callbacks.Callback):
    """Makes each epoch's random draws a function of (seed, epoch) alone.

    At the start of epoch k it seeds Python, NumPy and TensorFlow with
    `tfvae.data.epoch_seed(seed, k)` and sets the state of every
    `keras.random.SeedGenerator` in the model (reparameterisation noise,
    dropout, ...) to a value derived from (seed, k, its position). Together
    with a data pipeline keyed by epoch (`tfvae.data.EpochData`), a run
    resumed at epoch k draws exactly what an uninterrupted run draws there,
    whether or not the generators' states were saved.

    Args:
        seed: int. The run's seed.

    Example:

    >>> import numpy as np, tfvae
    >>> vae = tfvae.VAE.mlp((4, 4, 1), 2, hidden_units=(8,))
    >>> vae.compile("adam")
    >>> x = (np.random.default_rng(0).random((8, 4, 4, 1)) > 0.5).astype("float32")
    >>> _ = vae.fit(x, epochs=1, verbose=0, callbacks=[tfvae.callbacks.EpochSeed(0)])
    """

    def __init__(self, seed):
        super().__init__()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"`seed` must be an int; received seed={seed!r}.")
        self.seed = int(seed)

    def on_epoch_begin(self, epoch, logs=None):
        keras.utils.set_random_seed(epoch_seed(self.seed, int(epoch)))
        for i, state in enumerate(_compat.seed_generator_states(self.model)):
            first = zlib.crc32(f"{self.seed}/{epoch}/{i}".encode())
            state.assign(np.array([first, 0], dtype=state.dtype))
