import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import run_docstring_example, run_python

rng = np.random.default_rng(0)


# ------------------------------------------------------------ linear Gaussian
D, S = 4, 0.5
W = np.array([[1.2], [-0.7], [0.4], [2.0]], "float32")  # (D, 1)
B = np.array([0.3, -0.1, 0.0, 0.5], "float32")


def _linear_gaussian_vae(mean_shrink=0.9, var_inflate=1.5):
    """x|z ~ N(Wz + b, S^2 I), z ~ N(0, 1); q(z|x) a deliberately imperfect posterior."""
    precision = 1.0 + float(W[:, 0] @ W[:, 0]) / S**2
    post_var = 1.0 / precision
    gain = (post_var * W[:, 0] / S**2).astype("float32")  # exact posterior mean = gain . (x - b)

    x_in = keras.Input((D,))
    mean = keras.layers.Dense(1, name="mean")(x_in)
    log_var = keras.layers.Dense(1, name="log_var")(x_in)
    encoder = keras.Model(x_in, [mean, log_var])
    encoder.get_layer("mean").set_weights(
        [(mean_shrink * gain)[:, None], np.array([-(mean_shrink * gain) @ B], "float32")]
    )
    encoder.get_layer("log_var").set_weights(
        [np.zeros((D, 1), "float32"), np.array([np.log(var_inflate * post_var)], "float32")]
    )

    z_in = keras.Input((1,))
    decoder = keras.Model(z_in, keras.layers.Dense(D, name="dec")(z_in))
    decoder.get_layer("dec").set_weights([W.T, B])
    vae = tfvae.VAE(encoder, decoder, likelihood="gaussian", observation_scale=S)
    return vae, gain, post_var


def _exact_log_px(x):
    cov = W @ W.T + S**2 * np.eye(D)
    diff = x - B
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (D * np.log(2 * np.pi) + logdet + np.einsum("nd,de,ne->n", diff, np.linalg.inv(cov), diff))


def test_importance_weighted_log_likelihood_is_exact_on_linear_gaussian():
    vae, gain, post_var = _linear_gaussian_vae()
    z = rng.normal(size=(20, 1))
    x = (z @ W.T + B + S * rng.normal(size=(20, D))).astype("float32")
    exact = _exact_log_px(x)

    iwae = vae.log_likelihood(x, num_samples=1000, seed=1)
    assert np.max(np.abs(iwae - exact)) < 0.05

    # The k=1 bound is the ELBO: average many single-sample estimates per point.
    reps = 2000
    single = vae.log_likelihood(np.repeat(x, reps, axis=0), num_samples=1, batch_size=4000, seed=2)
    elbo = single.reshape(20, reps).mean(axis=1)
    # Analytic ELBO = log p(x) - KL(q(z|x) || p(z|x)), both Gaussians in 1-D.
    mq, vq = 0.9 * (x - B) @ gain, 1.5 * post_var
    mp, vp = (x - B) @ gain, post_var
    gap = 0.5 * (vq / vp + (mq - mp) ** 2 / vp - 1 - np.log(vq / vp))
    assert np.all(elbo < exact)
    se = single.reshape(20, reps).std(axis=1) / np.sqrt(reps)
    assert np.all(np.abs(elbo - (exact - gap)) < 5 * se + 1e-3)


def test_log_likelihood_is_reproducible_and_validates_arguments():
    vae, _, _ = _linear_gaussian_vae()
    x = rng.normal(size=(7, D)).astype("float32")
    a = vae.log_likelihood(x, num_samples=30, batch_size=3, chunk_size=7, seed=5)
    b = vae.log_likelihood(x, num_samples=30, batch_size=3, chunk_size=7, seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (7,) and a.dtype == np.float64
    for kwargs in ({"num_samples": 0}, {"num_samples": True}, {"batch_size": -1}, {"batch_size": 2.0},
                   {"chunk_size": 0}, {"chunk_size": True}):
        with pytest.raises(ValueError, match=list(kwargs)[0]):
            vae.log_likelihood(x, **kwargs)


def test_reported_metrics_are_nats_per_example():
    """With a near-deterministic posterior, evaluate's terms equal NumPy's sums averaged over the batch."""
    vae = tfvae.VAE.mlp((6, 5, 1), latent_dim=3, hidden_units=(8,), seed=0)
    log_var_layer = vae.encoder.get_layer("log_var")
    kernel, _ = log_var_layer.get_weights()
    log_var_layer.set_weights([np.zeros_like(kernel), np.full((3,), -30.0, "float32")])
    vae.compile("adam")
    x = rng.integers(0, 2, size=(10, 6, 5, 1)).astype("float32")
    result = vae.evaluate(x, batch_size=10, return_dict=True, verbose=0)

    mean, log_var = (t.numpy() for t in vae.encode(x))
    p = vae.decode(mean).numpy().astype(np.float64)
    nll = -np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=(1, 2, 3))
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    np.testing.assert_allclose(result["reconstruction"], nll.mean(), rtol=1e-4)
    np.testing.assert_allclose(result["kl"], kl.mean(), rtol=1e-4)
    np.testing.assert_allclose(result["loss"], nll.mean() + kl.mean(), rtol=1e-4)


def test_kl_warmup_grows_linearly_to_beta():
    vae = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,), beta=2.0, kl_warmup_steps=10)
    vae.compile("adam")
    weights = []
    for step in (0, 4, 9, 50):
        vae.optimizer.iterations.assign(step)
        weights.append(float(vae._kl_weight()))
    np.testing.assert_allclose(weights, [0.2, 1.0, 2.0, 2.0], rtol=1e-6)


def test_training_lowers_the_loss_and_reports_the_three_metrics():
    x = (rng.random((256, 6, 6, 1)) < 0.3).astype("float32")
    vae = tfvae.VAE.mlp((6, 6, 1), latent_dim=2, hidden_units=(32,), seed=1)
    vae.compile(keras.optimizers.Adam(1e-2))
    history = vae.fit(x, batch_size=32, epochs=5, verbose=0)
    assert set(history.history) == {"loss", "reconstruction", "kl"}
    assert history.history["loss"][-1] < history.history["loss"][0] - 1.0


@pytest.mark.parametrize(
    "builder, kwargs",
    [
        ("mlp", dict(likelihood="bernoulli")),
        ("mlp", dict(likelihood="gaussian", observation_scale="decoder")),
        ("conv", dict(likelihood="gaussian", observation_scale=0.1)),
        ("conv", dict(likelihood="gaussian")),
    ],
)
def test_builders_shapes_and_config_round_trip(builder, kwargs):
    shape = (28, 20, 1)
    vae = getattr(tfvae.VAE, builder)(shape, latent_dim=3, **kwargs)
    x = rng.random((2, *shape)).astype("float32")
    assert vae(x).shape == (2, *shape)
    mean, log_var = vae.encode(x)
    assert mean.shape == log_var.shape == (2, 3)
    assert vae.sample(4, seed=0).shape == (4, *shape)
    clone = tfvae.VAE.from_config(vae.get_config())
    assert clone.get_config() == vae.get_config()
    assert [w.shape for w in clone.weights] == [w.shape for w in vae.weights]


def test_sample_is_deterministic_for_a_seed():
    vae = tfvae.VAE.mlp((5, 5, 1), latent_dim=2, hidden_units=(8,))
    np.testing.assert_array_equal(vae.sample(3, seed=4).numpy(), vae.sample(3, seed=4).numpy())
    assert not np.array_equal(vae.sample(3, seed=4).numpy(), vae.sample(3, seed=5).numpy())


def test_reconstruct_uses_the_posterior_mean():
    vae = tfvae.VAE.mlp((5, 5, 1), latent_dim=2, hidden_units=(8,))
    x = rng.random((3, 5, 5, 1)).astype("float32")
    np.testing.assert_allclose(vae.reconstruct(x).numpy(), vae.decode(vae.encode(x)[0]).numpy())
    np.testing.assert_allclose(vae.reconstruct(x).numpy(), vae.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(likelihood="poisson"), "likelihood"),
        (dict(likelihood="bernoulli", observation_scale=0.1), "observation_scale"),
        (dict(likelihood="gaussian", observation_scale=-1.0), "observation_scale"),
        (dict(likelihood="gaussian", observation_scale="big"), "observation_scale"),
        (dict(beta=-0.5), "beta"),
        (dict(kl_warmup_steps=-1), "kl_warmup_steps"),
        (dict(kl_warmup_steps=True), "kl_warmup_steps=True"),
        (
            dict(value_range="0-255"),
            r"`value_range` must be one of \('unit', 'centered'\); received value_range='0-255'",
        ),
        (dict(value_range="centered"), "likelihood='bernoulli'.*value_range='unit'"),
        (dict(likelihood="discretized_gaussian", value_range="centered"), "likelihood='discretized_gaussian'"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tfvae.VAE.mlp((4,), latent_dim=2, **kwargs)


def test_rejects_non_network_encoder():
    with pytest.raises(ValueError, match="encoder"):
        tfvae.VAE("not a model", keras.Sequential())


@pytest.fixture(scope="module")
def small_vae():
    vae = tfvae.VAE.mlp((6, 6, 1), latent_dim=2, hidden_units=(8,))
    vae.compile("adam")
    return vae


def _bad_inputs():
    good = rng.random((8, 6, 6, 1)).astype("float32")
    nan = good.copy()
    nan[3, 2, 2, 0] = np.nan
    inf = good.copy()
    inf[0, 0, 0, 0] = np.inf
    return {
        "shape": (good[:, :5], "shape"),
        "channels": (np.concatenate([good, good], -1), "shape"),
        "dtype": ((good * 255).astype("uint8"), "floating point"),
        "nan": (nan, "NaN or Inf"),
        "inf": (inf, "NaN or Inf"),
        "range": (good * 3.0, "lie in \\[0.0, 1.0\\]"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
@pytest.mark.parametrize("method", ["encode", "reconstruct", "log_likelihood", "fit", "evaluate", "predict"])
def test_bad_input_raises_a_clear_value_error(small_vae, case, method):
    x, match = _bad_inputs()[case]
    # Eager methods raise ValueError; inside fit/evaluate/predict the step's assertion stops Keras with
    # InvalidArgumentError carrying the same sentence.
    # Shapes and dtypes are refused when the step is traced (ValueError).
    in_step = case in ("nan", "inf", "range") and method in ("fit", "evaluate", "predict")
    error = tf.errors.InvalidArgumentError if in_step else ValueError
    with pytest.raises(error, match=match):
        if method in ("fit", "evaluate", "predict"):
            getattr(small_vae, method)(x, batch_size=4, verbose=0)
        else:
            getattr(small_vae, method)(x)


def test_gaussian_likelihood_accepts_values_outside_unit_range():
    vae = tfvae.VAE.mlp((3,), latent_dim=2, hidden_units=(4,), likelihood="gaussian")
    mean, log_var = vae.encode(np.array([[-3.0, 0.5, 7.0]], "float32"))
    assert tuple(mean.shape) == tuple(log_var.shape) == (1, 2)
    assert np.all(np.isfinite(mean.numpy())) and np.all(np.isfinite(log_var.numpy()))
    with pytest.raises(ValueError, match="NaN"):  # unbounded, but still checked for finite values
        vae.encode(np.array([[np.nan, 0.5, 7.0]], "float32"))


def test_decode_rejects_wrong_latent_shape(small_vae):
    with pytest.raises(ValueError, match="shape"):
        small_vae.decode(np.zeros((2, 3), "float32"))


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    models = {
        "mlp_bernoulli": tfvae.VAE.mlp((6, 6, 1), latent_dim=3, hidden_units=(16,), seed=3),
        "conv_gaussian": tfvae.VAE.conv((12, 10, 1), latent_dim=3, filters=(4, 8), hidden_units=16,
                                        likelihood="gaussian", kl_warmup_steps=5),
    }
    for name, vae in models.items():
        vae.compile("adam")
        x = rng.random((16, *vae.image_shape)).astype("float32")
        vae.fit(x, batch_size=8, epochs=1, verbose=0)  # non-trivial weights and a learned scale
        vae.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}_x.npy", x)
        np.save(tmp_path / f"{name}_y.npy", vae.predict(x, verbose=0))
        np.save(tmp_path / f"{name}_mean.npy", vae.encode(x)[0].numpy())
        np.save(tmp_path / f"{name}_ll.npy", vae.log_likelihood(x, num_samples=5, seed=1))
    out = run_python(
        f"""
        import sys, numpy as np, keras
        import tfvae  # registers the classes; .keras files need them (SavedModels do not)
        d = sys.argv[1]
        for name in {list(models)!r}:
            vae = keras.saving.load_model(f"{{d}}/{{name}}.keras")  # safe_mode defaults to True
            x = np.load(f"{{d}}/{{name}}_x.npy")
            np.testing.assert_allclose(vae.predict(x, verbose=0), np.load(f"{{d}}/{{name}}_y.npy"), atol=1e-6)
            np.testing.assert_allclose(vae.encode(x)[0].numpy(), np.load(f"{{d}}/{{name}}_mean.npy"), atol=1e-6)
            np.testing.assert_allclose(vae.log_likelihood(x, num_samples=5, seed=1),
                                       np.load(f"{{d}}/{{name}}_ll.npy"), atol=1e-4)
            print(type(vae).__module__, vae.likelihood)
        """,
        args=(str(tmp_path),),
    )
    assert out.count("tfvae.models.vae") == 2


def _constant_decoder(vae, value, scale_raw=None):
    """Makes the decoder output `value` at every pixel for any z (and `scale_raw` on the scale head)."""
    dense = vae.decoder.get_layer("params_dense")
    dense.kernel.assign(np.zeros(dense.kernel.shape, "float32"))
    dense.bias.assign(np.full(dense.bias.shape, value, "float32"))
    if scale_raw is not None:
        head = vae.decoder.get_layer("log_scale_dense")
        head.kernel.assign(np.zeros(head.kernel.shape, "float32"))
        head.bias.assign(np.full(head.bias.shape, scale_raw, "float32"))


@pytest.mark.parametrize("observation_scale", ["learned", "decoder"])
def test_gaussian_scale_is_bounded_below_by_min_scale(observation_scale):
    # 10 pixels that are always 0, as 67 of MNIST's are: with an unbounded scale the Gaussian
    # objective there falls without limit as the scale shrinks.
    x = np.zeros((6, 10), "float32")
    vae = tfvae.VAE.mlp((10,), latent_dim=2, hidden_units=(4,), likelihood="gaussian",
                        observation_scale=observation_scale, min_scale=1e-3)
    _constant_decoder(vae, 0.0, scale_raw=-1e4 if observation_scale == "decoder" else None)
    if observation_scale == "learned":
        vae.raw_scale.assign(np.full(vae.raw_scale.shape, -1e4, "float32"))
    vae.compile("adam")
    r = vae.evaluate(x, batch_size=6, verbose=0, return_dict=True)
    # The best a pixel can do: its mean exact and its scale at the floor.
    floor = 10 * (0.5 * np.log(2 * np.pi) + np.log(1e-3))
    np.testing.assert_allclose(r["reconstruction"], floor, rtol=1e-5)
    with pytest.raises(ValueError, match="min_scale"):
        tfvae.VAE.mlp((10,), latent_dim=2, likelihood="gaussian", min_scale=0.0)


def test_discretized_gaussian_vae_scores_bins_and_refuses_other_data():
    from scipy import stats

    levels = np.array([0, 1, 17, 128, 254, 255]) / 255.0
    x = np.tile(levels, (4, 1)).astype("float32")
    vae = tfvae.VAE.mlp((6,), latent_dim=2, hidden_units=(4,), likelihood="discretized_gaussian",
                        observation_scale=0.1)
    _constant_decoder(vae, 0.3)
    vae.compile("adam")
    r = vae.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    half = 0.5 / 255
    upper = np.where(levels == 1.0, np.inf, levels + half)
    lower = np.where(levels == 0.0, -np.inf, levels - half)
    expected = -np.sum(np.log(stats.norm.cdf(upper, 0.3, 0.1) - stats.norm.cdf(lower, 0.3, 0.1)))
    np.testing.assert_allclose(r["reconstruction"], expected, rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="levels"):
        vae.evaluate(np.clip(x + 0.4 / 255, 0.0, 1.0), verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"lie in \[0.0, 1.0\]"):
        vae.evaluate(x - 0.5, verbose=0)  # value_range="centered"


def test_the_value_range_is_the_models_and_survives_a_round_trip():
    vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood="gaussian", value_range="centered")
    assert vae.value_bounds == (-0.5, 0.5)
    clone = tfvae.VAE.from_config(vae.get_config())
    assert clone.value_range == "centered" and clone.value_bounds == (-0.5, 0.5)
    assert tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,)).value_bounds == (0.0, 1.0)


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.VAE) >= 9


def test_training_every_configuration_logs_no_tensorflow_warning():
    """TensorFlow logs some warnings once per process (a persistent tape recording its own gradient ops, as
    DReG's two gradients once did) and AutoGraph others at each trace (lambdas it cannot parse, as the
    two-layer prior's once were): hence a fresh process, and every optional part of the VAE in it."""
    out = run_python("""
        import logging
        import numpy as np
        import keras
        import tensorflow as tf
        import tfvae

        messages = []
        handler = logging.Handler(logging.WARNING)
        # Seven models in one process retrace seven train functions: TensorFlow's retracing notice is about
        # the test's loop, not about any one model.
        handler.emit = lambda record: None if "triggered tf.function retracing" in record.getMessage() else (
            messages.append(record.getMessage().splitlines()[0]))
        tf.get_logger().addHandler(handler)
        x = (np.random.default_rng(0).random((8, 4, 4, 1)) < 0.3).astype("float32")
        for options in [dict(), dict(num_importance_samples=3, gradient_estimator="dreg"),
                        dict(num_importance_samples=3), dict(second_latent_dim=2, second_hidden_units=(8,)),
                        dict(posterior_flow=2, posterior_flow_units=(8,)), dict(prior="mixture"),
                        dict(prior="vamp", num_prior_components=3, kl_warmup_steps=4)]:
            vae = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0, **options)
            vae.compile(keras.optimizers.Adam(1e-3))
            before = [v.numpy() for v in vae.trainable_variables]
            vae.fit(x, batch_size=4, epochs=1, verbose=0)
            moved = sum(np.abs(v.numpy() - b).max() > 0 for v, b in zip(vae.trainable_variables, before))
            print(sorted(options), moved, "of", len(before), "variables moved")
            vae.log_likelihood(x, num_samples=3, seed=0)
        print("warnings:", messages)
    """)
    for line in out.splitlines()[:-1]:
        moved, _, total = line.split("]")[1].split()[:3]
        assert moved == total, line  # every variable got a gradient
    assert out.splitlines()[-1] == "warnings: []", out
