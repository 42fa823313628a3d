"""Image grids as PNG files, written without any plotting library."""

import math

import numpy as np
import tensorflow as tf

from tfvae._io import write_atomically

__all__ = ["code_images", "image_grid", "interleave", "latent_manifold", "save_png"]


def image_grid(images, columns=None, padding=1, value_range=(0.0, 1.0)):
    """Tiles images `(n, h, w, c)` into one uint8 image `(H, W, c)`.

    Args:
        images: array `(n, h, w, c)` with c in {1, 3}, values in `value_range`.
        columns: int or None. Images per row; None makes a near-square grid.
        padding: int. Pixels of white between images.
        value_range: `(low, high)` mapped to 0..255 (values outside are clipped).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"image_grid expects images (n, h, w, 1 or 3); received shape {images.shape}.")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    low, high = value_range
    scaled = np.clip((images - low) / (high - low), 0.0, 1.0)
    grid = np.ones((rows * (h + padding) + padding, columns * (w + padding) + padding, c), np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = scaled[i]
    return np.round(grid * 255).astype(np.uint8)


def save_png(path, images, columns=None, padding=1, value_range=(0.0, 1.0)):
    """Writes an image grid to `path` atomically (a complete file or none); returns the grid's shape."""
    grid = image_grid(images, columns, padding, value_range)
    write_atomically(path, tf.io.encode_png(grid).numpy())
    return grid.shape


def interleave(*arrays):
    """Rows of `(n, ...)` arrays taken in turn: a[0], b[0], a[1], b[1], ... (e.g. originals beside reconstructions)."""
    stacked = np.stack([np.asarray(a) for a in arrays], axis=1)
    return stacked.reshape(-1, *stacked.shape[2:])


def latent_manifold(vae, size=20, labels=None):
    """Decodes a `size` x `size` grid over a 2-D latent space (AEVB, Fig. 4).

    Grid points are Gaussian quantiles of evenly spaced probabilities, so the
    grid covers the prior's mass evenly. Returns images `(size * size, h, w, c)`
    in row-major order, ready for `save_png(..., columns=size)`.
    """
    if vae.latent_dim != 2:
        raise ValueError(f"latent_manifold needs a 2-D latent space; the model has latent_dim={vae.latent_dim}.")
    probs = (np.arange(size) + 0.5) / size
    q = tf.math.ndtri(tf.constant(probs, tf.float32)).numpy()
    z = np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2).astype(np.float32)
    if labels is not None:
        return vae.decode(z, np.full(len(z), labels)).numpy()
    return vae.decode(z).numpy()


def code_images(codes, num_embeddings, image_size=None, seed=0):
    """Code grids `(n, h, w)` as RGB images, one fixed random colour per code.

    Each grid is enlarged by pixel repetition to about `image_size` (height,
    width) so that it sits beside the images it encodes.
    """
    codes = np.asarray(codes)
    if codes.ndim != 3:
        raise ValueError(f"code_images expects codes (n, h, w); received shape {codes.shape}.")
    palette = np.random.default_rng(seed).random((num_embeddings, 3)).astype(np.float32)
    rgb = palette[np.clip(codes, 0, num_embeddings - 1)]
    if image_size is not None:
        fy, fx = max(1, image_size[0] // codes.shape[1]), max(1, image_size[1] // codes.shape[2])
        rgb = rgb.repeat(fy, axis=1).repeat(fx, axis=2)
    return rgb
