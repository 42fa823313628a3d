"""The feature extractor tfvae trains, its cache, and `evaluate_samples` on every kind of generative model."""

import glob
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import real_data
from tfvae import evaluation

rng = np.random.default_rng(280)
# One epoch on 10,000 MNIST images gave 0.94 test accuracy; the test asks for far less than that.
MIN_ACCURACY = 0.85
N = 1000


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("extractors"))


@pytest.fixture(scope="module")
def extractor(cache):
    return real_data(evaluation.train_feature_extractor, "mnist", epochs=1, train_split="train[:10000]",
                     cache_dir=cache)


@pytest.fixture(scope="module")
def mnist():
    train = real_data(tfvae.data.load_arrays, "mnist", "train", limit=2 * N)
    test = real_data(tfvae.data.load_arrays, "mnist", "test", limit=N)
    return train, test


def test_the_extractor_learns_mnist_and_is_cached_with_its_hash(extractor, cache):
    assert extractor.test_accuracy > MIN_ACCURACY
    assert extractor.weights_sha256 == extractor.weights_hash()
    assert "trained on mnist" in extractor.description and extractor.weights_sha256[:12] in extractor.description
    files = glob.glob(os.path.join(cache, "*"))
    assert [os.path.basename(f) for f in files] == ["mnist-train__10000_-classifier-e1-s0.keras"]  # no partial file
    again = evaluation.train_feature_extractor("mnist", epochs=1, train_split="train[:10000]", cache_dir=cache)
    assert again.weights_sha256 == extractor.weights_sha256 and again.test_accuracy == extractor.test_accuracy
    x = rng.random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(again(x).numpy(), extractor(x).numpy(), rtol=1e-5, atol=1e-6)
    # A changed weight is caught by its hash.
    again.network.weights[0].assign(again.network.weights[0] + 0.01)
    with pytest.raises(ValueError, match="differs from the recorded"):
        again.verify()


def test_frechet_distance_separates_real_images_from_broken_samplers(extractor, mnist):
    train, test = mnist

    def real(n, seed):
        return train[seed % 2 * N:][:n]

    def noise(n, seed):
        return np.random.default_rng(seed).random((n, 28, 28, 1)).astype("float32")

    def collapsed(n, seed):
        return np.repeat(train[:1], n, axis=0)

    floor = evaluation.evaluate_samples(real, test, extractor, n=N)
    broken = [evaluation.evaluate_samples(s, test, extractor, n=N) for s in (noise, collapsed)]
    print("floor", floor, "broken", broken)
    # Measured (n = 1,000): FD about 2 for training images against test images, over 150 for noise and for one
    # image repeated; the margin asked for is a factor 20.
    assert all(b["frechet_distance"] > 20 * floor["frechet_distance"] for b in broken)
    assert floor["precision"] > 0.7 and floor["recall"] > 0.7
    # Neither broken sampler covers the data (both measured 0.0 recall, coverage 0.01 or less).
    assert all(b["recall"] < 0.1 and b["coverage"] < 0.1 for b in broken)
    assert floor["extractor"] == extractor.description and floor["num_generated"] == N


def test_every_generative_model_evaluates_the_same_way(extractor, mnist, tmp_path):
    _, test = mnist
    x = test[:64]
    n = 40  # > k of the neighbour figures
    kinds = {
        "vae": tfvae.VAE.mlp((28, 28, 1), latent_dim=2, hidden_units=(8,), likelihood="discretized_gaussian"),
        "aae": tfvae.AdversarialAutoencoder.mlp((28, 28, 1), latent_dim=2, hidden_units=(8,), num_classes=10),
    }
    vqvae = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=4, embedding_dim=2, hidden_filters=4, residual_filters=2,
                             num_residual_blocks=0)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 4, filters=4, num_layers=1)
    results = {name: evaluation.evaluate_samples(model, x, extractor, n=n, batch_size=16)
               for name, model in kinds.items()}
    results["vqvae+prior"] = evaluation.evaluate_samples((vqvae, prior), x, extractor, n=n, batch_size=16)
    path = tfvae.export.export_saved_model(kinds["vae"], str(tmp_path / "vae"))
    signature = tf.saved_model.load(str(path)).signatures["sample"]
    results["savedmodel"] = evaluation.evaluate_samples(signature, x, extractor, n=n, batch_size=16)
    for name, r in results.items():
        assert r["num_generated"] == n and np.isfinite(r["frechet_distance"]), name
    assert 0.0 <= results["aae"]["class_accuracy"] <= 1.0  # conditional: samples of each class, classified
    assert "class_accuracy" not in results["vae"]
    recon = evaluation.evaluate_reconstructions(vqvae, x, extractor, n=n, batch_size=16)
    assert recon["num_images"] == n and np.isfinite(recon["frechet_distance"])
    with pytest.raises(ValueError, match="models codes, not images"):
        evaluation.evaluate_samples(prior, x, extractor, n=n)
    with pytest.raises(ValueError, match=r"takes images of shape \(28, 28, 1\); received .* \(4, 4, 1\)"):
        evaluation.evaluate_samples(lambda n, s: np.zeros((n, 4, 4, 1), "float32"), x, extractor, n=n)


def test_the_command_line_reports_sample_quality(extractor, mnist, tmp_path, cache):
    from tfvae import cli

    train, _ = mnist
    vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=2, hidden_units=(16,), likelihood="discretized_gaussian", seed=0)
    vae.compile(keras.optimizers.Adam(1e-3))
    vae.fit(train[:500], batch_size=100, epochs=1, verbose=0)
    vae.save(tmp_path / "vae.keras")
    extractor.save(tmp_path / "extractor.keras")
    out = tmp_path / "out.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(["evaluate", str(tmp_path / "vae.keras"), "--dataset", "mnist", "--examples", "200",
                         "--iw-samples", "0", "--samples", "200", "--extractor", str(tmp_path / "extractor.keras"),
                         "--json"])
    assert code == 0
    results = json.loads(buffer.getvalue())
    out.write_text(buffer.getvalue())
    for key in ("sample_frechet_distance", "sample_kernel_distance", "sample_precision", "sample_recall",
                "sample_density", "sample_coverage", "reconstruction_frechet_distance"):
        assert np.isfinite(results[key]), key
    assert results["extractor"] == extractor.description and results["samples"] == 200
    code = cli.main(["evaluate", str(tmp_path / "vae.keras"), "--dataset", "mnist", "--examples", "100",
                     "--iw-samples", "0", "--samples", "200", "--extractor", str(tmp_path / "extractor.keras")])
    assert code == 2  # more samples than test images: refused with the reason


def test_inception_v3_gives_2048_pool_features_of_any_image_size():
    """The standard FID network's shape and preprocessing (random weights: figures from it mean nothing)."""
    inception = evaluation.FeatureExtractor.inception_v3(weights=None, input_shape=(28, 28, 1))
    assert inception(np.zeros((2, 28, 28, 1), "float32")).shape == (2, 2048)
    assert not inception.can_classify and inception.description.startswith("inception_v3(None)")
    with pytest.raises(ValueError, match="InceptionV3 weights='/no/such/file.h5' could not be loaded"):
        evaluation.FeatureExtractor.inception_v3(weights="/no/such/file.h5")
