import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tfvae import images


def test_grid_layout_and_scaling():
    imgs = np.zeros((5, 2, 3, 1), np.float32)
    imgs[1] = 1.0
    grid = images.image_grid(imgs, columns=3, padding=1)
    assert grid.shape == (2 * 3 + 1, 3 * 4 + 1, 1) and grid.dtype == np.uint8
    assert np.all(grid[1:3, 1:4] == 0)  # image 0: black
    assert np.all(grid[1:3, 5:8] == 255)  # image 1: white
    centered = images.image_grid(imgs - 0.5, columns=3, value_range=(-0.5, 0.5))
    np.testing.assert_array_equal(centered, grid)


def test_save_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.random((4, 5, 6, 3)).astype(np.float32)
    path = tmp_path / "g.png"
    shape = images.save_png(str(path), imgs, columns=2)
    decoded = tf.io.decode_png(path.read_bytes()).numpy()
    assert decoded.shape == shape
    np.testing.assert_array_equal(decoded, images.image_grid(imgs, columns=2))
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]  # no temporary left behind


def test_bad_image_shape():
    with pytest.raises(ValueError, match="received shape"):
        images.image_grid(np.zeros((4, 5, 5, 2)))


def test_latent_manifold_covers_the_prior_quantiles():
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(4,))
    grid = images.latent_manifold(vae, size=5)
    assert grid.shape == (25, 4, 4, 1)
    with pytest.raises(ValueError, match="latent_dim=3"):
        images.latent_manifold(tfvae.VAE.mlp((4, 4, 1), latent_dim=3, hidden_units=(4,)))


def test_code_images_colour_each_code_consistently():
    codes = np.array([[[0, 1], [1, 2]]])
    rgb = images.code_images(codes, num_embeddings=3, image_size=(4, 4))
    assert rgb.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(rgb[0, 0, 2], rgb[0, 2, 0])  # both code 1
    assert not np.array_equal(rgb[0, 0, 0], rgb[0, 0, 2])


def test_interleave_takes_rows_in_turn():
    a, b = np.zeros((3, 2, 2, 1)), np.ones((3, 2, 2, 1))
    out = images.interleave(a, b)
    assert out.shape == (6, 2, 2, 1)
    np.testing.assert_array_equal(out[:, 0, 0, 0], [0, 1, 0, 1, 0, 1])
