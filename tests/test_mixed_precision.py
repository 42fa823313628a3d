"""Training under mixed-precision policies stays finite, with float32 where the models promise it."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tfvae import losses

rng = np.random.default_rng(0)


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _finite(model, history):
    assert all(np.all(np.isfinite(v)) for v in history.history.values()), history.history
    assert all(np.all(np.isfinite(np.asarray(w, np.float32))) for w in model.weights)


def test_vae_trains_with_float32_terms(policy):
    vae = tfvae.VAE.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    x = (rng.random((64, 8, 8, 1)) < 0.4).astype("float32")
    _finite(vae, vae.fit(x, batch_size=16, epochs=2, verbose=0))
    assert vae.encoder.layers[-1].compute_dtype == policy.split("_")[1]
    mean, log_var = vae.encode(x[:4])
    assert mean.dtype == tf.float32 and losses.gaussian_kl(mean, log_var).dtype == tf.float32
    assert vae.log_likelihood(x[:4], num_samples=5).dtype == np.float64
    if policy == "mixed_float16":
        assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer)


@pytest.mark.parametrize("quantizer", ["vq", "ema"])
def test_vqvae_trains_with_a_float32_quantizer(policy, quantizer):
    model = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=1, quantizer=quantizer)
    model.compile(keras.optimizers.Adam(1e-3))
    x = rng.random((32, 8, 8, 1)).astype("float32")
    _finite(model, model.fit(x, batch_size=8, epochs=2, verbose=0))
    assert model.quantizer.compute_dtype == "float32" and model.quantizer.embeddings.dtype == "float32"
    assert model.encoder.compute_dtype == policy.split("_")[1]


def test_prior_trains_with_float32_logits(policy):
    prior = tfvae.PixelCNNPrior((4, 4), 6, filters=8, num_layers=2)
    prior.compile(keras.optimizers.Adam(1e-3))
    codes = rng.integers(0, 6, (32, 4, 4)).astype("int32")
    _finite(prior, prior.fit(codes, batch_size=8, epochs=2, verbose=0))
    assert prior(codes[:2]).dtype == tf.float32 and prior.log_prob(codes[:2]).dtype == tf.float32
    assert prior.sample(2, seed=0).shape == (2, 4, 4)


def test_autoencoders_train_with_float32_terms_and_three_scaled_optimizers(policy):
    x = rng.random((32, 8, 8, 1)).astype("float32")
    ae = tfvae.Autoencoder.conv((8, 8, 1), latent_dim=3, filters=(4,), hidden_units=8, noise_stddev=0.2, dropout=0.1)
    ae.compile(keras.optimizers.Adam(1e-3))
    _finite(ae, ae.fit(x, batch_size=8, epochs=2, verbose=0))
    assert ae.encoder.compute_dtype == policy.split("_")[1]
    assert ae.encode(x[:2]).dtype == tf.float32 and ae.reconstruct(x[:2]).dtype == tf.float32
    aae = tfvae.AdversarialAutoencoder.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), discriminator_units=(8,))
    aae.compile(keras.optimizers.Adam(1e-3))
    _finite(aae, aae.fit(x, batch_size=8, epochs=2, verbose=0))
    assert aae.sample(2, seed=0).dtype == tf.float32
    scaled = [isinstance(o, keras.optimizers.LossScaleOptimizer)
              for o in (aae.optimizer, aae.discriminator_optimizer, aae.generator_optimizer)]
    assert scaled == [policy == "mixed_float16"] * 3
    saae = tfvae.AdversarialAutoencoder.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), discriminator_units=(8,),
                                            num_classes=3)
    saae.compile(keras.optimizers.Adam(1e-3))
    _finite(saae, saae.fit(x, rng.integers(0, 3, 32).astype("int32"), batch_size=8, epochs=2, verbose=0))
    assert saae.sample(2, labels=[0, 2], seed=0).dtype == tf.float32
    assert saae.discriminate(np.zeros((2, 3), "float32"), [0, 1]).dtype == tf.float32
