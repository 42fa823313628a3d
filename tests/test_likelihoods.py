"""tfvae.likelihoods: each likelihood against SciPy, the vocabulary shared by the models, and tfvae 0.1's names."""

import warnings

import keras
import numpy as np
import pytest
from scipy import special, stats

import tfvae
from tests.helpers import run_docstring_example
from tfvae import likelihoods
from tfvae.cli.parser import build_parser

rng = np.random.default_rng(7)


def _nll(likelihood, x, outputs, log_scale=None):
    return likelihood.negative_log_likelihood(x.astype("float32"), outputs.astype("float32"), log_scale).numpy()


def test_bernoulli_is_scipys_pmf_and_its_mean_the_sigmoid():
    x = (rng.random((4, 3, 5)) < 0.4).astype(np.float64)
    logits = rng.normal(0, 3, x.shape)
    expected = -stats.bernoulli.logpmf(x, special.expit(logits)).sum(axis=(1, 2))
    np.testing.assert_allclose(_nll(likelihoods.Bernoulli(), x, logits), expected, rtol=1e-5)
    np.testing.assert_allclose(likelihoods.Bernoulli().mean(logits.astype("float32")).numpy(), special.expit(logits),
                               rtol=1e-5)


@pytest.mark.parametrize("name, reduce", [("squared_error", np.sum), ("mean_squared_error", np.mean)])
def test_squared_errors_are_numpys(name, reduce):
    x, y = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    np.testing.assert_allclose(_nll(likelihoods.get(name), x, y), reduce((x - y) ** 2, axis=(1, 2)), rtol=1e-5)


@pytest.mark.parametrize("log_scale", [0.3, "per_element"])
def test_gaussian_is_scipys_density(log_scale):
    x, mean = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    log_scale = rng.normal(0, 0.5, (3, 6)) if log_scale == "per_element" else log_scale
    expected = -stats.norm.logpdf(x, mean, np.exp(log_scale)).sum(axis=1)
    np.testing.assert_allclose(_nll(likelihoods.Gaussian(), x, mean, np.float32(log_scale)), expected, rtol=1e-5)


def _discretized_reference(x, mean, scale, num_bins):
    """SciPy: the normal CDF between the bin edges, edge bins to infinity, in float64."""
    width = 1.0 / (num_bins - 1)
    upper = np.where(x > 1 - width / 2, np.inf, x + width / 2)
    lower = np.where(x < width / 2, -np.inf, x - width / 2)
    mass = stats.norm.cdf(upper, mean, scale) - stats.norm.cdf(lower, mean, scale)
    return mass


@pytest.mark.parametrize("num_bins", [2, 16, 256])
def test_discretized_gaussian_is_scipys_bin_mass_and_sums_to_one(num_bins):
    levels = np.arange(num_bins) / (num_bins - 1)
    mean, scale = 0.37, 0.08
    # One example per level, one pixel each: the masses of all levels sum to 1.
    x = levels[:, None]
    nll = _nll(likelihoods.DiscretizedGaussian(num_bins), x, np.full_like(x, mean), np.float32(np.log(scale)))
    reference = _discretized_reference(x[:, 0], mean, scale, num_bins)
    np.testing.assert_allclose(np.exp(-nll), reference, rtol=2e-5, atol=1e-12)
    np.testing.assert_allclose(np.exp(-nll).sum(), 1.0, rtol=1e-5)


def test_scale_arguments_are_checked():
    x = np.zeros((1, 2), "float32")
    with pytest.raises(ValueError, match="needs `log_scale`"):
        likelihoods.Gaussian().negative_log_likelihood(x, x)
    with pytest.raises(ValueError, match="has no scale"):
        likelihoods.Bernoulli().negative_log_likelihood(x, x, 0.0)


def test_only_probabilities_of_discrete_data_have_bits_per_dim():
    binary = (rng.random((2, 4, 4, 1)) < 0.5).astype("float32")
    grey = np.round(rng.random((2, 4, 4, 1)) * 255) / 255
    assert likelihoods.Bernoulli().is_probability and likelihoods.DiscretizedGaussian().is_probability
    assert not likelihoods.Gaussian().is_probability and not likelihoods.get("squared_error").is_probability
    np.testing.assert_allclose(tfvae.metrics.bits_per_dim(16 * np.log(2), binary, likelihoods.Bernoulli()), 1.0)
    np.testing.assert_allclose(tfvae.metrics.bits_per_dim(32 * np.log(2), grey, "discretized_gaussian"), 2.0)
    with pytest.raises(ValueError, match="binary"):
        tfvae.metrics.bits_per_dim(1.0, grey, "bernoulli")
    with pytest.raises(ValueError, match="levels"):
        tfvae.metrics.bits_per_dim(1.0, grey, likelihoods.DiscretizedGaussian(16))
    for density in ("gaussian", "squared_error", "mean_squared_error"):
        with pytest.raises(ValueError, match=f"received likelihood='{density}'"):
            tfvae.metrics.bits_per_dim(1.0, grey, density)


def test_get_and_serialize():
    assert likelihoods.get("bernoulli") == likelihoods.Bernoulli()
    assert likelihoods.get("mean_squared_error") == likelihoods.SquaredError("mean")
    assert likelihoods.get("discretized_gaussian") != likelihoods.DiscretizedGaussian(16)
    obj = likelihoods.DiscretizedGaussian(16)
    assert likelihoods.get(obj) is obj
    assert likelihoods.serialize(likelihoods.DiscretizedGaussian()) == "discretized_gaussian"
    assert likelihoods.get(likelihoods.serialize(obj)) == obj
    with pytest.raises(ValueError, match=r"must be one of .*received likelihood='poisson'"):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match="VQVAE: .*must be one of \\('mean_squared_error', 'bernoulli'\\)"):
        likelihoods.get("gaussian", ("mean_squared_error", "bernoulli"), "VQVAE")
    with pytest.raises(ValueError, match="reduction"):
        likelihoods.SquaredError("max")
    with pytest.raises(ValueError, match="num_bins"):
        likelihoods.DiscretizedGaussian(1)


def _vqvae(**kwargs):
    return tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8, residual_filters=4,
                            num_residual_blocks=1, **kwargs)


def _models(likelihood):
    """The three model families with one `likelihood=` argument."""
    kinds = {
        "vae": lambda: tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood=likelihood),
        "vqvae": lambda: _vqvae(likelihood=likelihood),
        "autoencoder": lambda: tfvae.Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,),
                                                     likelihood=likelihood),
        "aae": lambda: tfvae.AdversarialAutoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,),
                                                        likelihood=likelihood),
    }
    return kinds


@pytest.mark.parametrize("kind", ["vae", "vqvae", "autoencoder", "aae"])
def test_one_argument_name_in_every_model(kind):
    """`likelihood="bernoulli"` means the same in each model: the decoder gives logits, the model sigmoid
    probabilities, the reported reconstruction is the Bernoulli cross-entropy (for the VAE, of one latent draw)."""
    keras.utils.set_random_seed(3)
    model = _models("bernoulli")[kind]()
    assert model.likelihood == likelihoods.Bernoulli()
    assert model.get_config()["likelihood"] == "bernoulli"
    x = (rng.random((5, *model.image_shape)) < 0.5).astype("float32")
    out = model.reconstruct(x).numpy()
    assert out.min() > 0 and out.max() < 1  # probabilities
    model_object = _models(likelihoods.Bernoulli())[kind]()
    assert model_object.likelihood == model.likelihood


@pytest.mark.parametrize("kind, bad", [("vae", "squared_error"), ("vqvae", "gaussian"), ("autoencoder", "gaussian"),
                                       ("aae", "discretized_gaussian")])
def test_each_model_names_the_likelihoods_it_takes(kind, bad):
    with pytest.raises(ValueError, match=f"`likelihood` must be one of .*received likelihood='{bad}'"):
        _models(bad)[kind]()


def test_a_vae_of_16_level_images_round_trips(tmp_path):
    """A likelihood object that is not a plain name is serialised whole and loads back."""
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,),
                        likelihood=likelihoods.DiscretizedGaussian(num_bins=16), seed=0)
    x = (rng.integers(0, 16, (6, 4, 4, 1)) / 15).astype("float32")
    vae.compile("adam")
    vae.fit(x, batch_size=3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="levels"):
        vae.encode(np.full((1, 4, 4, 1), 0.5, "float32"))  # 0.5 is not one of the 16 levels
    path = str(tmp_path / "vae16.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.likelihood == likelihoods.DiscretizedGaussian(16)
    np.testing.assert_allclose(loaded.evaluate(x, verbose=0), vae.evaluate(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("cls_builder, old, new", [
    (lambda **k: _vqvae(**k), "mse", "mean_squared_error"),
    (lambda **k: _vqvae(**k), "bernoulli", "bernoulli"),
    (lambda **k: tfvae.Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), **k), "squared_error",
     "squared_error"),
    (lambda **k: tfvae.AdversarialAutoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), **k), "bernoulli",
     "bernoulli"),
])
def test_tfvae_0_1_names_still_work_with_a_deprecation_warning(cls_builder, old, new):
    with pytest.warns(DeprecationWarning, match=f"`reconstruction=` is deprecated .* use `likelihood='{new}'`"):
        model = cls_builder(reconstruction=old)
    assert model.likelihood == likelihoods.get(new)
    with pytest.warns(DeprecationWarning, match="reconstruction is deprecated"):
        assert model.reconstruction == old
    with pytest.raises(ValueError, match="give `likelihood` only"):
        cls_builder(reconstruction=old, likelihood=new)


def test_todays_names_give_no_warning_and_the_cli_keeps_the_old_flag():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _vqvae(likelihood="mean_squared_error")
        tfvae.Autoencoder.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,))
    for flag in ("--likelihood", "--reconstruction"):
        args = build_parser().parse_args(["train", "ae", "--output-dir", "out", flag, "bernoulli"])
        assert args.ae_likelihood == "bernoulli"


@pytest.mark.parametrize("obj", [likelihoods.Bernoulli, likelihoods.SquaredError, likelihoods.Gaussian,
                                 likelihoods.DiscretizedLogisticMixture,
                                 likelihoods.DiscretizedGaussian, tfvae.metrics.bits_per_dim])
def test_docstring_examples_run(obj):
    assert run_docstring_example(obj) >= 2


def test_discretized_gaussian_mean_is_the_censored_mean_within_half_a_level():
    """The expected image, not the location: a location of -12 (MNIST's background after training) is the image 0.
    Against the discretised distribution's own mean (SciPy masses of the 256 levels) and the censored Gaussian's
    closed form in float64."""
    levels = np.arange(256) / 255.0
    mus = np.array([-12.0, -0.3, 0.0, 0.37, 0.9, 1.5, 8.0])
    for sigma in (0.01, 0.2, 1.0, 3.0):
        ours = likelihoods.DiscretizedGaussian().mean(mus.astype("float32")[None],
                                                      np.float32(np.log(sigma))).numpy()[0]
        masses = _discretized_reference(levels[None, :], mus[:, None], sigma, 256)
        discrete_mean = (masses * levels).sum(1)
        a, b = -mus / sigma, (1 - mus) / sigma
        censored = (mus * (stats.norm.cdf(b) - stats.norm.cdf(a)) + sigma * (stats.norm.pdf(a) - stats.norm.pdf(b))
                    + stats.norm.sf(b))
        np.testing.assert_allclose(ours, censored, atol=2e-6)
        assert np.all(np.abs(ours - discrete_mean) <= 0.5 / 255 + 2e-6)
    from tfvae.likelihoods.discretized_gaussian import _normal_cdf

    t = np.linspace(-40, 40, 100_001).astype("float32")
    np.testing.assert_allclose(_normal_cdf(t).numpy(), stats.norm.cdf(t.astype(np.float64)), atol=3e-7)


def test_a_discretized_gaussian_vae_decodes_images_in_the_unit_range():
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood="discretized_gaussian", seed=0)
    # Move the decoder's output bias far below 0, as training on an always-black pixel does.
    bias = vae.decoder.weights[-1]
    bias.assign(bias - 12.0)
    z = rng.normal(size=(5, 2)).astype("float32")
    images = vae.decode(z).numpy()
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(images, 0.0, atol=1e-6)


def _mixture_reference(x, outputs, k, num_bins, min_log_scale):
    """log p(x) per example of PixelCNN++'s discretised logistic mixture, in float64 NumPy, pixel by pixel."""
    x, outputs = np.asarray(x, np.float64), np.asarray(outputs, np.float64)
    channels = x.shape[-1]
    half = 0.5 / (num_bins - 1)
    flat_x, flat_o = x.reshape(len(x), -1, channels), outputs.reshape(len(x), -1, outputs.shape[-1])
    total = np.zeros(len(x))
    for n in range(len(x)):
        for p in range(flat_x.shape[1]):
            v, o = flat_x[n, p], flat_o[n, p]
            logits = o[:k]
            locations = o[k:k + k * channels].reshape(k, channels)
            log_scales = np.maximum(o[k + k * channels:k + 2 * k * channels].reshape(k, channels), min_log_scale)
            coeffs = np.tanh(o[k + 2 * k * channels:].reshape(k, -1))
            weights = np.exp(logits - logits.max())
            weights /= weights.sum()
            p_pixel = 0.0
            for j in range(k):
                mu = locations[j].copy()
                if channels == 3:
                    mu[1] += coeffs[j, 0] * v[0]
                    mu[2] += coeffs[j, 1] * v[0] + coeffs[j, 2] * v[1]
                s = np.exp(log_scales[j])
                upper = np.where(v > 1 - half, np.inf, v + half)
                lower = np.where(v < half, -np.inf, v - half)
                hi, lo = (upper - mu) / s, (lower - mu) / s
                # Above the location, the mirrored difference of small upper tails keeps float64's precision.
                mass = np.where(lo > 0, special.expit(-lo) - special.expit(-hi), special.expit(hi) - special.expit(lo))
                p_pixel += weights[j] * np.prod(mass)
            total[n] += np.log(p_pixel)
    return total


@pytest.mark.parametrize("channels, k", [(1, 1), (1, 3), (3, 1), (3, 4)])
def test_discretized_logistic_mixture_is_the_numpy_reference(channels, k):
    lik = likelihoods.DiscretizedLogisticMixture(num_components=k)
    x = rng.integers(0, 256, (3, 2, 2, channels)) / 255.0
    x[0, 0, 0] = 0.0  # edge bins
    x[0, 0, 1] = 1.0
    outputs = rng.normal(0, 1, (3, 2, 2, lik.output_channels(channels)))
    outputs[..., k:k + k * channels] = rng.random(outputs[..., k:k + k * channels].shape)  # locations in [0, 1]
    outputs[..., k + k * channels:k + 2 * k * channels] = rng.uniform(-5, 0, (3, 2, 2, k * channels))
    expected = -_mixture_reference(x, outputs, k, 256, lik.min_log_scale)
    np.testing.assert_allclose(_nll(lik, x, outputs), expected, rtol=2e-5)


def test_discretized_logistic_mixture_masses_sum_to_one_over_all_colours():
    """Colour, 2 components, coupled channels, 4 levels: the 4^3 colours of a pixel have masses summing to 1."""
    lik = likelihoods.DiscretizedLogisticMixture(num_components=2, num_bins=4)
    levels = np.arange(4) / 3.0
    colours = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(64, 1, 1, 3)
    outputs = np.repeat(rng.normal(0, 1, (1, 1, 1, lik.output_channels(3))), 64, axis=0)
    outputs[..., 2:8] = rng.random(6)
    masses = np.exp(-_nll(lik, colours, outputs))
    np.testing.assert_allclose(masses.sum(), 1.0, rtol=1e-5)
    assert lik.is_probability and str(likelihoods.get("discretized_logistic_mixture")) == lik.name


def test_discretized_logistic_mixture_grey_mean_is_within_half_a_level():
    lik = likelihoods.DiscretizedLogisticMixture(num_components=3)
    levels = np.arange(256) / 255.0
    outputs = rng.normal(0, 1, (5, lik.output_channels(1)))
    outputs[:, 3:6] = rng.uniform(-2, 3, (5, 3))  # locations, some far outside [0, 1]
    outputs[:, 6:9] = rng.uniform(-4, 0.5, (5, 3))
    ours = lik.mean(outputs.astype("float32")[:, None, None, :]).numpy()[:, 0, 0, 0]
    # The discretised distribution's mean, from the masses of all 256 levels.
    grid = np.repeat(levels[None, :, None, None], 5, axis=0).reshape(5, 256, 1, 1)
    masses = np.exp(np.stack([_mixture_reference(grid[i][:, None], np.repeat(outputs[i][None, None, None], 256, 0),
                                                  3, 256, lik.min_log_scale) for i in range(5)]))
    np.testing.assert_allclose(masses.sum(1), 1.0, rtol=1e-6)
    discrete = (masses * levels).sum(1)
    assert np.all(np.abs(ours - discrete) <= 0.5 / 255 + 1e-5)


def test_a_vae_with_the_mixture_trains_saves_and_exports(tmp_path):
    x = (rng.integers(0, 256, (16, 8, 8, 3)) / 255.0).astype("float32")
    vae = tfvae.VAE.conv((8, 8, 3), latent_dim=3, filters=(4,), hidden_units=8, seed=0,
                         likelihood=likelihoods.DiscretizedLogisticMixture(num_components=2))
    assert vae.decoder.output.shape[-1] == 20
    vae.compile("adam")
    assert np.isfinite(vae.fit(x, batch_size=8, epochs=1, verbose=0).history["loss"][0])
    z = rng.normal(size=(2, 3)).astype("float32")
    vae.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.likelihood == likelihoods.DiscretizedLogisticMixture(num_components=2)
    np.testing.assert_allclose(loaded.decode(z).numpy(), vae.decode(z).numpy(), rtol=1e-6)
    tfvae.export.export_tflite(vae, str(tmp_path / "d.tflite"), signature="decode")
    out = tfvae.export.run_tflite(str(tmp_path / "d.tflite"), {"latent": z})["images"]
    np.testing.assert_allclose(out, vae.decode(z).numpy(), atol=1e-5)
