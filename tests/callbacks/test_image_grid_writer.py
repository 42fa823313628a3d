import numpy as np
import tensorflow as tf

import tfvae
from tfvae.callbacks import ImageGridWriter, LatentTraversal

rng = np.random.default_rng(0)


def test_samples_reconstructions_and_traversals_are_written(tmp_path):
    vae = tfvae.VAE.mlp((6, 6, 1), latent_dim=3, hidden_units=(8,))
    vae.compile("adam")
    x = rng.random((16, 6, 6, 1)).astype("float32")
    writer = ImageGridWriter(str(tmp_path), images=x[:4], num_samples=8, every_n_epochs=2, log_dir=str(tmp_path / "tb"))
    traversal = LatentTraversal(str(tmp_path), x[0], steps=5, every_n_epochs=1)
    vae.fit(x, batch_size=8, epochs=2, verbose=0, callbacks=[writer, traversal])
    assert not (tmp_path / "samples_epoch_001.png").exists()  # every 2 epochs
    assert tf.io.decode_png((tmp_path / "samples_epoch_002.png").read_bytes()).shape == (7 + 1, 8 * 7 + 1, 1)
    assert tf.io.decode_png((tmp_path / "reconstructions_epoch_002.png").read_bytes()).shape == (7 + 1, 8 * 7 + 1, 1)
    # One row per latent dimension, one column per step.
    assert tf.io.decode_png((tmp_path / "traversal_epoch_001.png").read_bytes()).shape == (3 * 7 + 1, 5 * 7 + 1, 1)
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())


def test_traversal_varies_one_dimension_per_row():
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,))
    cb = LatentTraversal("/tmp/unused", rng.random((4, 4, 1)).astype("float32"), steps=3, limit=2.0)
    cb.set_model(vae)
    mean = vae.encode(cb.image)[0].numpy()[0]
    expected = vae.decode(np.array([[-2, mean[1]], [0, mean[1]], [2, mean[1]],
                                    [mean[0], -2], [mean[0], 0], [mean[0], 2]], "float32")).numpy()
    np.testing.assert_allclose(cb.traversal(), expected, atol=1e-6)
