"""The autoencoders on real MNIST, seeded short runs: what each kind is for, measured.

Thresholds are stated against what a broken model reaches:
- denoising: a "denoising" model whose corruption did nothing is a plain
  autoencoder (ratio 1); the noisy input itself is far worse than both.
- adversarial: a plain autoencoder's codes, which nothing pulls toward N(0, I),
  are the baseline for the distance to the prior (measured: MMD^2 0.230 and a
  mean per-dimension KS statistic of 0.274; the adversarial one 0.0137 and
  0.106);
- samples: a collapsed generator puts every sample in one class (entropy 0,
  one class at 100%); uniform classes give entropy log 10 = 2.30.
"""

import keras
import numpy as np
import pytest
import scipy.stats

import tfvae
from tests.helpers import real_data

LATENT = 8
NOISE = 0.5
AAE_UNITS, AAE_EPOCHS = 512, 10


def _mmd(a, b, bandwidth):
    """Unbiased MMD^2 with a Gaussian kernel, in NumPy (independent of tfvae.metrics)."""
    def gram(u, v):
        return np.exp(-((u[:, None, :] - v[None, :, :]) ** 2).sum(-1) / (2 * bandwidth**2))

    kaa, kbb = gram(a, a), gram(b, b)
    n, m = len(a), len(b)
    return ((kaa.sum() - np.trace(kaa)) / (n * (n - 1)) + (kbb.sum() - np.trace(kbb)) / (m * (m - 1))
            - 2 * gram(a, b).mean())


@pytest.fixture(scope="module")
def mnist():
    train = real_data(tfvae.data.load_arrays, "mnist", "train", with_labels=True, limit=10_000)
    test = real_data(tfvae.data.load_arrays, "mnist", "test", with_labels=True, limit=1_000)
    return train, test


def _fit(model, images, epochs):
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(images, batch_size=100, epochs=epochs, verbose=0)
    return model


@pytest.fixture(scope="module")
def trained(mnist):
    (x, _), _ = mnist
    models = {}
    for name, noise in (("plain", 0.0), ("denoising", NOISE)):
        keras.utils.set_random_seed(0)
        models[name] = _fit(tfvae.Autoencoder.mlp((28, 28, 1), LATENT, hidden_units=(256,), noise_stddev=noise,
                                                  seed=0), x, epochs=5)
    keras.utils.set_random_seed(0)
    # Three Adam optimizers at 1e-3 (compile's copies of the first).
    aae = tfvae.AdversarialAutoencoder.mlp((28, 28, 1), LATENT, hidden_units=(AAE_UNITS,), seed=0)
    models["adversarial"] = _fit(aae, x, epochs=AAE_EPOCHS)
    return models


def test_denoising_autoencoder_recovers_clean_images_better_than_a_plain_one(mnist, trained):
    _, (x, _) = mnist
    noisy = np.clip(x + np.random.default_rng(1).normal(0.0, NOISE, x.shape), 0.0, 1.0).astype("float32")
    error = {name: float(((trained[name].reconstruct(noisy).numpy() - x) ** 2).sum(axis=(1, 2, 3)).mean())
             for name in ("plain", "denoising")}
    input_error = float(((noisy - x) ** 2).sum(axis=(1, 2, 3)).mean())
    print(f"squared error to the clean test images: noisy input {input_error:.1f}, plain {error['plain']:.1f}, "
          f"denoising {error['denoising']:.1f}")
    # Measured: 43.2 (plain) against 25.7 (denoising), ratio 0.59; the noisy input itself 90.2.
    assert error["denoising"] < 0.8 * error["plain"] < 0.8 * input_error


def test_adversarial_codes_follow_the_prior_far_closer_than_plain_codes(mnist, trained):
    _, (x, _) = mnist
    prior = np.random.default_rng(2).standard_normal((len(x), LATENT))
    mmd, ks = {}, {}
    for name in ("plain", "adversarial"):
        codes = trained[name].encode(x).numpy().astype(np.float64)
        mmd[name] = _mmd(codes, prior, np.sqrt(LATENT))
        ks[name] = np.array([scipy.stats.kstest(codes[:, j], "norm").statistic for j in range(LATENT)])
    print(f"MMD^2 to N(0, I): plain {mmd['plain']:.4f}, adversarial {mmd['adversarial']:.4f}; KS statistics per "
          f"dimension, mean (largest): plain {ks['plain'].mean():.3f} ({ks['plain'].max():.3f}), adversarial "
          f"{ks['adversarial'].mean():.3f} ({ks['adversarial'].max():.3f})")
    assert mmd["adversarial"] < 0.03 and mmd["adversarial"] < 0.1 * mmd["plain"]
    assert ks["adversarial"].mean() < 0.5 * ks["plain"].mean() and ks["adversarial"].max() < ks["plain"].max()


def test_adversarial_samples_spread_over_the_digit_classes(mnist, trained):
    (x, y), (xt, yt) = mnist
    keras.utils.set_random_seed(3)
    classifier = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
    classifier.compile(keras.optimizers.Adam(1e-3),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    classifier.fit(x, y, batch_size=100, epochs=3, verbose=0)
    accuracy = classifier.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
    samples = trained["adversarial"].sample(1000, seed=4).numpy()
    counts = np.bincount(classifier.predict(samples, verbose=0).argmax(-1), minlength=10)
    freq = counts / counts.sum()
    entropy = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    print(f"classifier test accuracy {accuracy:.3f}; sample classes {counts.tolist()}, entropy {entropy:.2f} nats")
    assert accuracy > 0.9
    assert entropy > 0.85 * np.log(10) and freq.max() < 0.3 and (freq > 0.02).sum() >= 9
