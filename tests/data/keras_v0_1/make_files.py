"""Writes the `.keras` files of this folder with tfvae 0.1 (main at commit dbba518, before the model base of
public hooks), and what each model computed, so that tests/test_old_files.py can check that today's code
loads them and computes the same.

    git worktree add /tmp/tfvae-0.1 dbba518
    PYTHONPATH=/tmp/tfvae-0.1 python tests/data/keras_v0_1/make_files.py tests/data/keras_v0_1
"""

import os
import sys

import keras
import numpy as np

import tfvae

out = sys.argv[1]
rng = np.random.default_rng(0)
x = (rng.random((8, 6, 6, 1)) < 0.4).astype("float32")
labels = rng.integers(0, 3, 8).astype("int32")
codes = rng.integers(0, 5, (8, 3, 3)).astype("int32")
models = {
    "vae": tfvae.VAE.mlp((6, 6, 1), latent_dim=2, hidden_units=(8,), seed=1),
    "cvae": tfvae.ConditionalVAE.mlp((6, 6, 1), latent_dim=2, num_classes=3, hidden_units=(8,), seed=2),
    "vqvae": tfvae.VQVAE.conv((8, 8, 1), num_embeddings=5, embedding_dim=2, hidden_filters=4, residual_filters=2,
                              num_residual_blocks=1, reconstruction="bernoulli", seed=3),
    "autoencoder": tfvae.Autoencoder.mlp((6, 6, 1), latent_dim=3, hidden_units=(8,), noise_stddev=0.3, seed=4),
    "aae": tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim=2, num_classes=3, hidden_units=(8,),
                                            discriminator_units=(8,), seed=5),
    "prior": tfvae.PixelCNNPrior((3, 3), 5, filters=4, num_layers=1, num_classes=3),
}
x8 = (rng.random((8, 8, 8, 1)) < 0.4).astype("float32")
data = {"vae": (x,), "cvae": (x, labels), "vqvae": (x8,), "autoencoder": (x,), "aae": (x, labels),
        "prior": (codes, labels)}
expected = {"x": x, "x8": x8, "labels": labels, "codes": codes}
for name, model in models.items():
    keras.utils.set_random_seed(0)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(*data[name], batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.save(os.path.join(out, f"{name}.keras"))
expected["vae_mean"] = models["vae"].encode(x)[0].numpy()
expected["vae_decoded"] = models["vae"].decode(expected["vae_mean"]).numpy()
expected["cvae_mean"] = models["cvae"].encode(x, labels)[0].numpy()
expected["vqvae_reconstruction"] = models["vqvae"].reconstruct(x8).numpy()
expected["vqvae_codes"] = models["vqvae"].encode(x8).numpy()
expected["autoencoder_reconstruction"] = models["autoencoder"].reconstruct(x).numpy()
expected["aae_reconstruction"] = models["aae"].reconstruct(x).numpy()
expected["prior_log_prob"] = models["prior"].log_prob(codes, labels).numpy()
np.savez(os.path.join(out, "expected.npz"), **expected)
print("wrote", sorted(os.listdir(out)))
