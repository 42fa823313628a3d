"""AdversarialAutoencoder: the three updates, their figures against NumPy, optimizers, sampling, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import run_docstring_example

rng = np.random.default_rng(0)
X = rng.random((16, 6, 6, 1)).astype("float32")


def _softplus(t):
    return np.logaddexp(0.0, t)


def _numpy_mmd(a, b, bandwidth, paired=False):
    def mean_k(u, v, same):
        k = np.exp(-((u[:, None, :] - v[None, :, :]) ** 2).sum(-1) / (2 * bandwidth**2))
        if same:
            return (k.sum() - np.trace(k)) / (len(u) * (len(u) - 1))
        return k.mean()

    return mean_k(a, a, True) + mean_k(b, b, True) - 2 * mean_k(a, b, paired)


def _model(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim=3, hidden_units=(8,), discriminator_units=(8,),
                                            seed=seed, **kwargs)


def _weights(net):
    return [np.array(w) for w in net.trainable_weights]


def _changed(before, net):
    return [not np.array_equal(b, np.array(w)) for b, w in zip(before, net.trainable_weights)]


@pytest.mark.parametrize("moving", ["reconstruction", "discriminator", "generator"])
def test_each_update_moves_only_its_own_networks(moving):
    aae = _model()
    rates = {name: 0.1 if name == moving else 0.0 for name in ("reconstruction", "discriminator", "generator")}
    aae.compile(keras.optimizers.SGD(rates["reconstruction"]),
                discriminator_optimizer=keras.optimizers.SGD(rates["discriminator"]),
                generator_optimizer=keras.optimizers.SGD(rates["generator"]))
    before = {name: _weights(getattr(aae, name)) for name in ("encoder", "decoder", "discriminator")}
    aae.train_on_batch(X)
    moved = {name: all(_changed(before[name], getattr(aae, name))) for name in before}
    still = {name: not any(_changed(before[name], getattr(aae, name))) for name in before}
    expected = {"reconstruction": {"encoder", "decoder"}, "discriminator": {"discriminator"},
                "generator": {"encoder"}}[moving]
    for name in before:
        assert (moved if name in expected else still)[name], (moving, name)


def test_reported_figures_are_those_of_numpy_and_the_generator_faces_the_updated_discriminator():
    aae = _model(seed=4)
    # Only the discriminator learns: the encoder's codes are those of the initial weights, and the
    # generator loss must be computed with the discriminator after its update.
    aae.compile(keras.optimizers.SGD(0.0), discriminator_optimizer=keras.optimizers.SGD(0.5),
                generator_optimizer=keras.optimizers.SGD(0.0))
    state = aae.prior_sampler.seed_generator.state.numpy()
    d_before = [np.array(w) for w in aae.discriminator.weights]
    logs = aae.train_on_batch(X, return_dict=True)
    aae.prior_sampler.seed_generator.state.assign(state)
    codes = aae.encoder(X).numpy().astype(np.float64)
    zeros = np.zeros_like(codes, np.float32)
    draws = aae.prior_sampler([zeros, zeros]).numpy().astype(np.float64)  # N(0, I): what the step drew
    recon = aae.decoder(codes.astype("float32")).numpy()
    np.testing.assert_allclose(logs["loss"], ((recon - X) ** 2).sum(axis=(1, 2, 3)).mean(), rtol=1e-5)
    d_after = [np.array(w) for w in aae.discriminator.weights]
    for w, v in zip(aae.discriminator.weights, d_before):
        w.assign(v)
    old_p, old_q = aae.discriminator(draws).numpy()[:, 0], aae.discriminator(codes).numpy()[:, 0]
    for w, v in zip(aae.discriminator.weights, d_after):
        w.assign(v)
    new_q = aae.discriminator(codes).numpy()[:, 0]
    assert not np.allclose(new_q, old_q)
    np.testing.assert_allclose(logs["discriminator_loss"], (_softplus(-old_p) + _softplus(old_q)).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["generator_loss"], _softplus(-new_q).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["mmd"], _numpy_mmd(codes, draws, np.sqrt(3)), rtol=1e-4, atol=1e-6)
    # The draws are N(0, I): 16 x 3 values.
    assert abs(draws.mean()) < 0.5 and 0.6 < draws.std() < 1.4


def test_compile_gives_three_optimizers_and_refuses_a_shared_one():
    aae = _model()
    aae.compile(keras.optimizers.Adam(3e-4))
    opts = (aae.optimizer, aae.discriminator_optimizer, aae.generator_optimizer)
    assert len({id(o) for o in opts}) == 3
    assert all(type(o) is keras.optimizers.Adam and np.isclose(float(o.learning_rate), 3e-4) for o in opts)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="three optimizer instances"):
        aae.compile(keras.optimizers.Adam(), discriminator_optimizer=shared, generator_optimizer=shared)


def test_keras_file_keeps_all_three_optimizers_and_training_resumes_exactly(tmp_path):
    def make():
        aae = _model(seed=7, noise_stddev=0.1)
        aae.compile(keras.optimizers.Adam(1e-2), discriminator_optimizer=keras.optimizers.Adam(2e-3),
                    generator_optimizer=keras.optimizers.RMSprop(1e-3))
        return aae

    whole = make()
    whole.fit(X, batch_size=8, epochs=2, shuffle=False, verbose=0)
    half = make()
    half.fit(X, batch_size=8, epochs=1, shuffle=False, verbose=0)
    half.save(tmp_path / "aae.keras")
    resumed = keras.saving.load_model(tmp_path / "aae.keras")  # safe mode
    assert type(resumed.generator_optimizer) is keras.optimizers.RMSprop
    assert np.isclose(float(resumed.discriminator_optimizer.learning_rate), 2e-3)
    assert int(resumed.generator_optimizer.iterations.numpy()) == 2
    resumed.fit(X, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    np.testing.assert_allclose(resumed.sample(4, seed=3).numpy(), whole.sample(4, seed=3).numpy(), atol=1e-5)


def test_sample_decodes_standard_normal_draws_and_is_reproducible():
    aae = _model()
    a, b = aae.sample(5, seed=11).numpy(), aae.sample(5, seed=11).numpy()
    np.testing.assert_array_equal(a, b)
    z = keras.random.normal((5, 3), seed=11)
    np.testing.assert_allclose(a, aae.decode(z).numpy(), atol=1e-6)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="`n`"):
            aae.sample(bad)
    with pytest.raises(ValueError, match="no labels"):
        aae.sample(3, labels=[1, 2, 3])


def test_serving_functions_add_sampling():
    aae = _model()
    fns = aae.serving_functions()
    assert set(fns) == {"serving_default", "encode", "decode", "sample", "sample_from_noise"}
    noise = rng.standard_normal((3, 3)).astype("float32")
    np.testing.assert_allclose(fns["sample_from_noise"](noise=noise)["images"].numpy(), aae.decode(noise).numpy(),
                               atol=1e-6)
    one = fns["sample"](seed=np.array([5, 6], "int64"))["images"].numpy()
    two = fns["sample"](seed=np.array([6], "int64"))["images"].numpy()
    np.testing.assert_allclose(one[1], two[0], atol=1e-6)


def test_discriminator_must_give_one_logit():
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    wide = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"logits \(batch, 1\)"):
        tfvae.AdversarialAutoencoder(encoder, decoder, wide)
    with pytest.raises(ValueError, match="discriminator"):
        tfvae.AdversarialAutoencoder(encoder, decoder, "nope")


def test_bad_images_are_refused_by_every_step():
    aae = _model()
    aae.compile("adam")
    bad = X.copy()
    bad[0, 0, 0, 0] = np.nan
    # encode raises ValueError; inside fit/evaluate the step's assertion stops Keras with InvalidArgumentError.
    for error, call in ((tf.errors.InvalidArgumentError, lambda: aae.fit(bad, verbose=0)),
                        (tf.errors.InvalidArgumentError, lambda: aae.evaluate(bad, verbose=0)),
                        (ValueError, lambda: aae.encode(bad)),
                        (tf.errors.InvalidArgumentError, lambda: aae.fit(X * 2, verbose=0))):
        with pytest.raises(error, match=r"NaN or Inf|lie in \[0.0, 1.0\]"):
            call()


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.AdversarialAutoencoder) >= 7


# ------------------------------------------------------------------ class-conditional prior
Y = rng.integers(0, 3, 16).astype("int32")


def _conditional(seed=0, **kwargs):
    return _model(seed=seed, num_classes=3, **kwargs)


@pytest.mark.parametrize("num_classes, latent_dim", [(10, 8), (6, 3), (10, 2), (3, 1), (2, 1)])
def test_default_class_means_are_spread_the_class_spacing_apart(num_classes, latent_dim):
    from tfvae.models.adversarial_autoencoder import CLASS_SPACING

    keras.utils.set_random_seed(0)
    aae = tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim, hidden_units=(8,), discriminator_units=(8,),
                                           num_classes=num_classes)
    means = np.asarray(aae.prior_means, np.float64)
    assert means.shape == (num_classes, latent_dim)
    gaps = np.sqrt(((means[:, None] - means[None]) ** 2).sum(-1))[~np.eye(num_classes, dtype=bool)]
    np.testing.assert_allclose(gaps.min(), CLASS_SPACING, rtol=1e-6)
    if num_classes <= 2 * latent_dim:  # on the axes: one nonzero coordinate per mean, all at the same radius
        assert ((means != 0).sum(axis=1) == 1).all()
        radius = np.linalg.norm(means, axis=1)
        np.testing.assert_allclose(radius, radius[0], rtol=1e-6)


def test_conditional_steps_give_the_discriminator_labels_and_draw_from_the_class_gaussians():
    means = rng.normal(0.0, 3.0, (3, 3)).astype("float32")
    aae = _conditional(seed=4, prior_means=means)
    aae.compile(keras.optimizers.SGD(0.0), discriminator_optimizer=keras.optimizers.SGD(0.5),
                generator_optimizer=keras.optimizers.SGD(0.0))
    state = aae.prior_sampler.seed_generator.state.numpy()
    d_before = [np.array(w) for w in aae.discriminator.weights]
    logs = aae.train_on_batch(X, Y, return_dict=True)
    # The same noise as the step drew, shifted by the labels' means.
    aae.prior_sampler.seed_generator.state.assign(state)
    codes = aae.encoder(X).numpy()
    noise = aae.prior_sampler([np.zeros_like(codes), np.zeros_like(codes)]).numpy()
    draws = noise + means[Y]
    onehot = np.eye(3, dtype="float32")[Y]
    d_after = [np.array(w) for w in aae.discriminator.weights]
    for w, v in zip(aae.discriminator.weights, d_before):
        w.assign(v)
    old_p = aae.discriminator([draws, onehot]).numpy()[:, 0]
    old_q = aae.discriminator([codes, onehot]).numpy()[:, 0]
    for w, v in zip(aae.discriminator.weights, d_after):
        w.assign(v)
    new_q = aae.discriminator([codes, onehot]).numpy()[:, 0]
    np.testing.assert_allclose(logs["discriminator_loss"], (_softplus(-old_p) + _softplus(old_q)).mean(), rtol=1e-5)
    np.testing.assert_allclose(logs["generator_loss"], _softplus(-new_q).mean(), rtol=1e-5)
    # Code i and draw i share a label: the cross term leaves those pairs out.
    np.testing.assert_allclose(logs["mmd"], _numpy_mmd(codes.astype(np.float64), draws.astype(np.float64), np.sqrt(3),
                                                       paired=True), rtol=1e-4, atol=1e-6)
    # Another label for the same code changes what the discriminator says.
    other = np.eye(3, dtype="float32")[(Y + 1) % 3]
    assert not np.allclose(aae.discriminator([codes, other]).numpy(), new_q[:, None])
    np.testing.assert_allclose(aae.discriminate(codes, Y).numpy(), 1 / (1 + np.exp(-new_q)), rtol=1e-5)


def test_conditional_model_needs_labels_to_train_but_not_to_reconstruct():
    aae = _conditional()
    aae.compile("adam")
    with pytest.raises(ValueError, match=r"\(images, labels\)"):
        aae.fit(X, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels must lie in \[0, 3\)"):
        aae.fit(X, Y + 3, verbose=0)
    with pytest.raises(ValueError, match="labels must be integers"):
        aae.evaluate(X, Y.astype("float32"), verbose=0)
    with pytest.raises(ValueError, match="needs labels"):
        aae.discriminate(np.zeros((2, 3), "float32"))
    aae.fit(X, Y, batch_size=8, verbose=0)
    assert set(aae.evaluate(X, Y, verbose=0, return_dict=True)) == {"loss", "discriminator_loss", "generator_loss",
                                                                    "mmd"}
    np.testing.assert_allclose(aae.predict(X, verbose=0), aae.reconstruct(X).numpy(), atol=1e-6)


def test_conditional_sample_decodes_draws_of_the_labels_gaussians():
    aae = _conditional()
    means = np.asarray(aae.prior_means)
    z = keras.random.normal((6, 3), seed=11).numpy()
    labels = np.array([2, 0, 1, 1, 0, 2])
    np.testing.assert_allclose(aae.sample(6, labels=labels, seed=11).numpy(),
                               aae.decode(z + means[labels]).numpy(), atol=1e-6)
    np.testing.assert_allclose(aae.sample(6, seed=11).numpy(), aae.decode(z + means[np.arange(6) % 3]).numpy(),
                               atol=1e-6)  # classes in turn
    np.testing.assert_allclose(aae.sample(6, labels=1, seed=11).numpy(), aae.decode(z + means[1]).numpy(), atol=1e-6)
    for bad, message in ((np.array([0, 1]), "got 2 labels"), (3, r"lie in \[0, 3\)"), (0.5, "integers")):
        with pytest.raises(ValueError, match=message):
            aae.sample(6, labels=bad)


def test_prior_means_are_checked():
    with pytest.raises(ValueError, match="need `num_classes`"):
        _model(prior_means=np.zeros((3, 3)))
    for bad, message in ((np.zeros((2, 3)), r"shape \(num_classes=3, latent_dim\); received shape \(2, 3\)"),
                         ([[0.0, np.nan, 0.0]] * 3, "finite"), ("abc", "not an array of numbers"),
                         (np.zeros((3, 4)), r"one column per code dimension, shape \(3, 3\)")):
        with pytest.raises(ValueError, match=message):
            _conditional(prior_means=bad)
    with pytest.raises(ValueError, match="`num_classes`"):
        _model(num_classes=1)


def test_a_conditional_model_needs_a_discriminator_that_takes_the_label():
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"\[codes \(batch, 2\), one-hot labels \(batch, 3\)\]"):
        tfvae.AdversarialAutoencoder(encoder, decoder, plain, num_classes=3)


def test_conditional_keras_file_keeps_the_means_and_resumes_exactly(tmp_path):
    means = rng.normal(0.0, 2.0, (3, 3)).astype("float32")

    def make():
        aae = _conditional(seed=7, prior_means=means)
        aae.compile(keras.optimizers.Adam(1e-2))
        return aae

    whole = make()
    whole.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    half = make()
    half.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    half.save(tmp_path / "saae.keras")
    resumed = keras.saving.load_model(tmp_path / "saae.keras")  # safe mode
    assert resumed.num_classes == 3
    np.testing.assert_array_equal(np.asarray(resumed.prior_means), means)
    resumed.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(whole.weights, resumed.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6, err_msg=a.path)
    np.testing.assert_allclose(resumed.sample(4, labels=[0, 1, 2, 0], seed=3).numpy(),
                               whole.sample(4, labels=[0, 1, 2, 0], seed=3).numpy(), atol=1e-5)


def test_conditional_serving_functions_take_a_label():
    aae = _conditional()
    fns = aae.serving_functions()
    assert [s.name for s in fns["sample"].input_signature] == ["seed", "label"]
    noise = rng.standard_normal((3, 3)).astype("float32")
    label = np.array([2, 0, 1], "int32")
    np.testing.assert_allclose(fns["sample_from_noise"](noise=noise, label=label)["images"].numpy(),
                               aae.decode(noise + np.asarray(aae.prior_means)[label]).numpy(), atol=1e-6)
    one = fns["sample"](seed=np.array([5, 6], "int64"), label=np.array([0, 2], "int32"))["images"].numpy()
    two = fns["sample"](seed=np.array([6], "int64"), label=np.array([2], "int32"))["images"].numpy()
    np.testing.assert_allclose(one[1], two[0], atol=1e-6)
