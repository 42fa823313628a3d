"""XLA and input checks: `jit_compile="auto"` per model, and value checks that survive XLA."""

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
                            residual_filters=4, num_residual_blocks=0, reconstruction="bernoulli", seed=0)


def test_auto_means_the_measured_default_per_model():
    vae = tfvae.VAE.mlp((12, 12, 1), latent_dim=2, hidden_units=(8,))
    vae.compile("adam")
    vq = _vqvae()
    vq.compile("adam")
    assert vae.jit_compile is False and vq.jit_compile is False  # XLA not faster on CPU
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    assert prior.jit_compile is True  # measured faster
    prior.compile("adam", jit_compile=False)
    assert prior.jit_compile is False


def test_xla_models_still_reject_bad_values_in_datasets():
    # XLA drops tf.debugging.Assert: without the checks in the data pipeline these pass silently.
    model = _vqvae()
    model.compile("adam", jit_compile=True)
    good = tf.data.Dataset.from_tensor_slices(_images()).batch(4)

    def wrong(bad):
        return tf.data.Dataset.from_tensor_slices(_images(bad=bad)).batch(4)

    out_of_range = "between 0.0 and 1.0|lie in"
    with pytest.raises(ValueError, match="NaN"):
        model.fit(wrong("nan"), shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=out_of_range):
        model.evaluate(wrong("range"), verbose=0)
    with pytest.raises(ValueError, match=out_of_range):
        model.predict(wrong("range"), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(good, validation_data=wrong("nan"), epochs=1, shuffle=False, verbose=0)
    model.fit(good, validation_data=good, epochs=1, shuffle=False, verbose=0)  # and good data still trains afterwards


def test_xla_vae_and_prior_reject_bad_arrays_and_labels():
    vae = tfvae.ConditionalVAE.mlp((12, 12, 1), latent_dim=2, num_classes=3, hidden_units=(8,))
    vae.compile("adam", jit_compile=True)
    with pytest.raises(ValueError, match="NaN"):
        vae.fit(_images(bad="nan"), np.zeros(8, "int32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="labels must"):
        vae.fit(tf.data.Dataset.from_tensor_slices((_images(), np.full(8, 3, "int32"))).batch(4), shuffle=False, verbose=0)
    prior = tfvae.PixelCNNPrior((3, 3), 8, filters=8, num_layers=1)
    prior.compile("adam")
    codes = rng.integers(0, 8, (8, 3, 3)).astype("int32")
    codes[2, 1, 1] = 8
    with pytest.raises(ValueError, match=r"\[0, 8\)|0 to 7"):
        prior.fit(tf.data.Dataset.from_tensor_slices(codes).batch(4), shuffle=False, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 8\)|0 to 7"):
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
    vq.reconstruction, vq.data_variance = "mse", 0.2
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
    from tfvae._checks import check_image_batch

    checked = tf.function(lambda x: check_image_batch(x, (12, 12, 1), value_range, "M.fit"))
    good = _images()
    np.testing.assert_array_equal(checked(good).numpy(), good)
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        checked(_images(bad="nan"))
    if value_range is None:
        np.testing.assert_array_equal(checked(_images(bad="range")).numpy()[5, 2, 2, 0], 4.0)
    else:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"lie between 0.0 and 1.0; received min/max.*4"):
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


def test_auto_steps_per_execution_keeps_every_epoch_exact():
    # Keras runs whole executions past steps_per_epoch (tests/test_compat.py); "auto" divides the epoch.
    vae = _small_vae()
    vae.compile("adam")
    assert vae.steps_per_execution == vae.steps_per_execution_default == 16
    endless = tf.data.Dataset.from_tensor_slices(_binary(32)).batch(4).repeat()
    done = 0
    for steps_per_epoch, validation_steps, expected in ((7, None, 7), (12, None, 12), (20, None, 10),
                                                         (12, 8, 4), (17, None, 1)):
        validation = dict(validation_data=endless, validation_steps=validation_steps) if validation_steps else {}
        vae.fit(endless, steps_per_epoch=steps_per_epoch, epochs=2, shuffle=False, verbose=0, **validation)
        done += 2 * steps_per_epoch
        assert vae.steps_per_execution == expected, (steps_per_epoch, validation_steps)
        assert int(vae.optimizer.iterations.numpy()) == done, (steps_per_epoch, validation_steps)
    vae.evaluate(endless, steps=6, verbose=0)
    assert vae.steps_per_execution == 6
    vae.fit(_binary(40), batch_size=4, epochs=1, verbose=0)  # finite data: the default again, and exact
    assert vae.steps_per_execution == 16 and int(vae.optimizer.iterations.numpy()) == done + 10


def test_steps_per_execution_does_not_change_what_training_computes():
    x = _binary(44, seed=1)  # 11 batches of 4: the last execution of 16 steps stops at the end of the data
    runs = []
    for steps in (1, "auto"):
        vae = _small_vae(seed=3)
        vae.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps)
        history = vae.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        runs.append((vae, history))
    (one, h1), (auto, h2) = runs
    assert (one.steps_per_execution, auto.steps_per_execution) == (1, 16)
    assert int(one.optimizer.iterations.numpy()) == int(auto.optimizer.iterations.numpy()) == 22
    for a, b in zip(one.weights, auto.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    for k in h1:
        np.testing.assert_allclose(h2[k], h1[k], rtol=1e-5, err_msg=k)


def test_explicit_steps_per_execution_is_checked():
    vae = _small_vae()
    for bad in (0, -2, 2.5, True, "fast"):
        with pytest.raises(ValueError, match=f"steps_per_execution={bad!r}"):
            vae.compile("adam", steps_per_execution=bad)
    vae.compile("adam", steps_per_execution=5)
    endless = tf.data.Dataset.from_tensor_slices(_binary(16)).batch(4).repeat()
    with pytest.raises(ValueError, match="steps_per_epoch=7 is not a multiple of steps_per_execution=5"):
        vae.fit(endless, steps_per_epoch=7, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="steps=3 is not a multiple of steps_per_execution=5"):
        vae.evaluate(endless, steps=3, verbose=0)
    assert int(vae.optimizer.iterations.numpy()) == 0  # refused before any step
    vae.fit(endless, steps_per_epoch=10, shuffle=False, verbose=0)
    assert int(vae.optimizer.iterations.numpy()) == 10


def test_a_callback_that_needs_every_step_gets_every_step():
    seen = []
    schedule = tfvae.callbacks.BetaSchedule(lambda step: seen.append(step) or 1.0, per_step=True)
    vae = _small_vae()
    vae.compile("adam")
    vae.fit(_binary(24), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])
    assert vae.steps_per_execution == 1 and seen == list(range(6))
    vae.compile("adam", steps_per_execution=2)
    with pytest.raises(ValueError, match="per_step=True.*steps_per_execution=2"):
        vae.fit(_binary(24), batch_size=4, epochs=1, verbose=0, callbacks=[schedule])


def test_auto_steps_per_execution_survives_a_keras_file(tmp_path):
    vae = _small_vae()
    vae.compile("adam")
    vae.fit(_binary(8), batch_size=4, steps_per_epoch=2, verbose=0)  # the count of this call: 2
    assert vae.get_compile_config()["steps_per_execution"] == "auto"
    vae.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.compiled and loaded.steps_per_execution == 16
    assert loaded.get_compile_config()["steps_per_execution"] == "auto"
    fixed = _small_vae()
    fixed.compile("adam", steps_per_execution=4)
    fixed.fit(_binary(8), batch_size=4, verbose=0)
    fixed.save(tmp_path / "f.keras")
    assert keras.saving.load_model(tmp_path / "f.keras").steps_per_execution == 4
