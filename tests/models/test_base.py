"""The models' base: compile defaults, input checks inside steps, steps per execution, evaluation draws."""

import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae

rng = np.random.default_rng(0)


def _images(n=8, bad=None):
    x = rng.random((n, 12, 12, 1)).astype("float32")
    if bad == "nan":
        x[3, 1, 1, 0] = np.nan
    elif bad == "range":
        x[5, 2, 2, 0] = 4.0
    return x


def _vqvae():
    return tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=3, hidden_filters=8,
                            residual_filters=4, num_residual_blocks=0, likelihood="bernoulli", seed=0)


def test_auto_means_the_measured_default_where_no_check_is_lost():
    vae = tfvae.VAE.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,))
    vae.compile("adam")
    vq = _vqvae()
    vq.compile("adam")
    assert vae.jit_compile is False and vq.jit_compile is False  # XLA not faster on CPU
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    assert prior.jit_compile is False  # measured faster, but XLA would drop the value checks
    fast = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1, validate_inputs=False)
    fast.compile("adam")
    assert fast.jit_compile is True
    fast.compile("adam", jit_compile=False)
    assert fast.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile='yes'"):
        fast.compile("adam", jit_compile="yes")


def test_xla_with_validation_warns_that_values_go_unchecked():
    model = _vqvae()
    with pytest.warns(UserWarning, match="jit_compile=True removes the value checks"):
        model.compile("adam", jit_compile=True)
    assert model.jit_compile is True
    quiet = tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=3, hidden_filters=8, residual_filters=4,
                             num_residual_blocks=0, validate_inputs=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet.compile("adam", jit_compile=True)


def test_bad_values_stop_fit_evaluate_and_predict_with_the_checks_sentence():
    model = _vqvae()
    model.compile("adam")
    good = tf.data.Dataset.from_tensor_slices(_images()).batch(4)

    def wrong(bad):
        return tf.data.Dataset.from_tensor_slices(_images(bad=bad)).batch(4)

    error = tf.errors.InvalidArgumentError
    with pytest.raises(error, match=r"VQVAE.fit: input contains NaN or Inf values; expected finite values"):
        model.fit(wrong("nan"), shuffle=False, verbose=0)
    with pytest.raises(error, match=r"VQVAE.evaluate: input values must lie in \[0.0, 1.0\]; received min/max"):
        model.evaluate(wrong("range"), verbose=0)
    with pytest.raises(error, match=r"VQVAE.predict: input values must lie in \[0.0, 1.0\]"):
        model.predict(wrong("range"), verbose=0)
    with pytest.raises(error, match="VQVAE.evaluate: input contains NaN"):
        model.fit(good, validation_data=wrong("nan"), epochs=1, shuffle=False, verbose=0)
    model.fit(good, validation_data=good, epochs=1, shuffle=False, verbose=0)  # and good data still trains afterwards


def test_bad_labels_and_codes_stop_the_steps():
    vae = tfvae.ConditionalVAE.mlp((12, 12, 1), latent_dim=2, num_classes=3, hidden_units=(8,))
    vae.compile("adam")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        vae.fit(tf.data.Dataset.from_tensor_slices((_images(), np.full(8, 3, "int32"))).batch(4), shuffle=False,
                verbose=0)
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    codes = rng.integers(0, 8, (8, 3, 3)).astype("int32")
    codes[2, 1, 1] = 8
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"codes must lie in \[0, 8\)"):
        prior.fit(tf.data.Dataset.from_tensor_slices(codes).batch(4), shuffle=False, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"codes must lie in \[0, 8\)"):
        prior.predict(codes, verbose=0)


def test_metrics_are_means_over_examples_not_over_batches():
    """11 examples in batches of 10: every figure is the mean over the 11, not of the two batch means."""
    x = (rng.random((11, 12, 12, 1)) < 0.4).astype("float32")
    # VAE: the KL is deterministic given the encoder; its mean over examples from NumPy.
    vae = tfvae.VAE.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,), seed=0)
    vae.compile("adam")
    mean, log_var = (t.numpy().astype(np.float64) for t in vae.encode(x))
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)
    batch_means = np.mean([kl[:10].mean(), kl[10:].mean()])
    assert abs(kl.mean() - batch_means) > 1e-3  # the data tell the two apart
    r = vae.evaluate(x, batch_size=10, verbose=0, return_dict=True)
    np.testing.assert_allclose(r["kl"], kl.mean(), rtol=1e-5)
    np.testing.assert_allclose(r["loss"], r["reconstruction"] + r["kl"], rtol=1e-5)

    # VQ-VAE: normalised squared error of its (deterministic) reconstructions, from NumPy.
    vq = _vqvae()
    vq.likelihood, vq.data_variance = tfvae.likelihoods.get("mean_squared_error"), 0.2
    vq.compile("adam")
    err = np.mean((vq.reconstruct(x).numpy().astype(np.float64) - x) ** 2, axis=(1, 2, 3)) / 0.2
    assert abs(err.mean() - np.mean([err[:10].mean(), err[10:].mean()])) > 1e-4
    np.testing.assert_allclose(vq.evaluate(x, batch_size=10, verbose=0, return_dict=True)["reconstruction"],
                               err.mean(), rtol=1e-5)

    # Prior: nats per grid from a categorical log-likelihood in NumPy.
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam", jit_compile=False)
    codes = rng.integers(0, 8, (11, 3, 3)).astype("int32")
    logits = prior(codes).numpy().astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_softmax, codes[..., None], -1)[..., 0].sum(axis=(1, 2))
    r = prior.evaluate(codes, batch_size=10, verbose=0, return_dict=True)
    np.testing.assert_allclose(r["loss"], nll.mean(), rtol=1e-5)
    np.testing.assert_allclose(r["bits_per_code"], nll.mean() / (9 * np.log(2)), rtol=1e-5)


def test_fit_reports_the_epoch_mean_over_examples():
    """fit's epoch figure of a model that does not change (learning rate 0) is the mean over all examples."""
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile(keras.optimizers.SGD(0.0), jit_compile=False)
    codes = rng.integers(0, 8, (11, 3, 3)).astype("int32")
    logits = prior(codes).numpy().astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_softmax, codes[..., None], -1)[..., 0].sum(axis=(1, 2))
    history = prior.fit(codes, batch_size=10, epochs=1, shuffle=False, verbose=0).history
    np.testing.assert_allclose(history["loss"][0], nll.mean(), rtol=1e-5)


@pytest.mark.parametrize("value_range", [(0.0, 1.0), None])
def test_in_graph_check_is_one_pass_and_names_what_is_wrong(value_range):
    """In a compiled step, good batches pass one fused test; a bad one gets the message of what is wrong."""
    from tfvae._input_checks import check_image_batch

    checked = tf.function(lambda x: check_image_batch(x, (12, 12, 1), value_range, "M.fit"))
    good = _images()
    np.testing.assert_array_equal(checked(good).numpy(), good)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        checked(_images(bad="nan"))
    if value_range is None:
        np.testing.assert_array_equal(checked(_images(bad="range")).numpy()[5, 2, 2, 0], 4.0)
    else:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"lie in \[0.0, 1.0\]; received min/max.*4"):
            checked(_images(bad="range"))
    # Good batches run no min, max or NaN count: those are in the failure branch only.
    graph = checked.get_concrete_function(tf.TensorSpec((None, 12, 12, 1), tf.float32)).graph
    assert not any(op.type in ("Min", "Max") for op in graph.get_operations())


# ------------------------------------------------------------ steps per execution
def _small_vae(seed=0):
    keras.utils.set_random_seed(seed)
    return tfvae.VAE.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,), seed=seed)


def _binary(n, seed=0):
    return (np.random.default_rng(seed).random((n, 12, 12, 1)) > 0.5).astype("float32")


def test_steps_per_execution_is_keras_default_and_checked():
    vae = _small_vae()
    vae.compile("adam")
    assert vae.steps_per_execution == 1
    for bad in (0, -2, 2.5, True, "auto"):
        with pytest.raises(ValueError, match=f"steps_per_execution={bad!r}"):
            vae.compile("adam", steps_per_execution=bad)


def test_predict_returns_the_rows_of_the_steps_asked_for():
    # tfvae 0.1 ran 16 steps per execution by default: 64 rows here.
    endless = tf.data.Dataset.from_tensor_slices(_binary(32)).batch(4).repeat()
    vae = _small_vae()
    assert vae.predict(endless, steps=3, verbose=0).shape == (12, 12, 12, 1)
    vae.compile("adam")
    assert vae.predict(endless, steps=3, verbose=0).shape == (12, 12, 12, 1)


class _Batches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begin, self.end = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.begin.append(batch)

    def on_train_batch_end(self, batch, logs=None):
        self.end.append(batch)


def test_batch_callbacks_see_every_batch_of_the_epoch_and_no_other(tmp_path):
    # tfvae 0.1, on an epoch of 7 batches: begin once with 0, end once with 15.
    data = tf.data.Dataset.from_tensor_slices(_binary(28)).batch(4)
    vae = _small_vae()
    vae.compile("adam")
    seen = _Batches()
    vae.fit(data, epochs=1, shuffle=False, verbose=0, callbacks=[seen])
    assert seen.begin == seen.end == list(range(7))
    assert int(vae.optimizer.iterations.numpy()) == 7
    # ModelCheckpoint(save_freq=2) saves as often as for a plain Keras model on the same epoch.
    written = {}
    plain = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    plain.compile("adam", "mse")
    for name, model, fit_data in (("tfvae", vae, data), ("keras", plain, data.map(lambda x: (x, x[:, 0, 0])))):
        folder = tmp_path / name
        folder.mkdir()
        checkpoint = keras.callbacks.ModelCheckpoint(str(folder / "w-{epoch}-{batch}.weights.h5"),
                                                     save_weights_only=True, save_freq=2)
        model.fit(fit_data, epochs=1, shuffle=False, verbose=0, callbacks=[checkpoint])
        written[name] = sorted(os.listdir(folder))
    assert len(written["tfvae"]) == len(written["keras"]) == 3, written


def test_steps_per_execution_does_not_change_what_training_computes():
    x = _binary(44, seed=1)  # 11 batches of 4
    runs = []
    for steps in (1, 4):
        vae = _small_vae(seed=3)
        vae.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps)
        history = vae.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        runs.append((vae, history))
    (one, h1), (four, h2) = runs
    assert (one.steps_per_execution, four.steps_per_execution) == (1, 4)
    assert int(one.optimizer.iterations.numpy()) == int(four.optimizer.iterations.numpy()) == 22
    for a, b in zip(one.weights, four.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    for k in h1:
        np.testing.assert_allclose(h2[k], h1[k], rtol=1e-5, err_msg=k)


def test_a_callback_that_needs_every_step_refuses_several_per_execution():
    seen = []
    schedule = tfvae.callbacks.BetaSchedule(lambda step: seen.append(step) or 1.0, per_step=True)
    vae = _small_vae()
    vae.compile("adam")
    vae.fit(_binary(24), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])
    assert seen == list(range(6))
    vae.compile("adam", steps_per_execution=2)
    with pytest.raises(ValueError, match="per_step=True.*steps_per_execution=2"):
        vae.fit(_binary(24), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])


def test_compile_settings_survive_a_keras_file(tmp_path):
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1, validate_inputs=False)
    prior.compile("adam", steps_per_execution=4)
    assert prior.get_compile_config()["jit_compile"] == "auto" and prior.jit_compile is True
    prior.save(tmp_path / "p.keras")
    loaded = keras.saving.load_model(tmp_path / "p.keras")
    assert loaded.compiled and loaded.steps_per_execution == 4 and loaded.jit_compile is True
    assert loaded.get_compile_config()["jit_compile"] == "auto"
    vae = _small_vae()
    vae.compile("adam", jit_compile=False)
    vae.save(tmp_path / "v.keras")
    loaded = keras.saving.load_model(tmp_path / "v.keras")
    assert loaded.steps_per_execution == 1 and loaded.jit_compile is False


# ------------------------------------------------------------ evaluation draws
def test_validation_does_not_change_what_training_draws():
    # tfvae 0.1: evaluation drew from the training stream (weights up to 3.3e-3 apart for one seed).
    x = _binary(16, seed=2)
    for build, data in ((lambda: _small_vae(seed=5), (x,)),
                        (lambda: tfvae.AdversarialAutoencoder.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,),
                                                                  discriminator_units=(8,), seed=5), (x,))):
        weights = []
        for validation in (None, (x,)):
            keras.utils.set_random_seed(5)
            model = build()
            model.compile(keras.optimizers.Adam(1e-2))
            model.fit(*data, batch_size=4, epochs=2, shuffle=False, verbose=0, validation_data=validation)
            weights.append([np.asarray(w) for w in model.weights])
        for a, b in zip(*weights):
            np.testing.assert_array_equal(a, b)


def test_evaluate_gives_the_same_figures_each_time():
    vae = _small_vae()
    vae.compile("adam")
    x = _binary(12)
    first = vae.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert vae.evaluate(x, batch_size=4, verbose=0, return_dict=True) == first


# ------------------------------------------------------------ one vocabulary
def test_sample_takes_seed_and_labels_by_keyword_in_every_model():
    # tfvae 0.1: vae.sample(16, 0) ignored the 0 (labels), aae.sample(16, 0) raised, prior.sample(16, 0) seeded.
    models = [
        tfvae.VAE.mlp((6, 6, 1), latent_dim=2, hidden_units=(4,)),
        tfvae.ConditionalVAE.mlp((6, 6, 1), latent_dim=2, num_classes=3, hidden_units=(4,)),
        tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim=2, hidden_units=(4,), discriminator_units=(4,)),
        tfvae.PixelCNNPrior((3, 3), 4, filters=4, num_layers=1),
    ]
    for model in models:
        with pytest.raises(TypeError):
            model.sample(16, 0)
        np.testing.assert_array_equal(model.sample(3, seed=7).numpy(), model.sample(3, seed=7).numpy())
    conditional = models[1]
    np.testing.assert_array_equal(conditional.sample(3, seed=7, labels=1).numpy(),
                                  conditional.sample(3, labels=[1, 1, 1], seed=7).numpy())
    vqvae = tfvae.VQVAE.conv((12, 12, 1), num_embeddings=4, embedding_dim=2, hidden_filters=4, residual_filters=2,
                             num_residual_blocks=0)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 4, filters=4, num_layers=1)
    with pytest.raises(TypeError):
        tfvae.generative.sample_images(vqvae, prior, 2, 0)
