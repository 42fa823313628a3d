import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import run_docstring_example, run_python

rng = np.random.default_rng(1)


@pytest.fixture(scope="module")
def cvae():
    model = tfvae.ConditionalVAE.mlp((6, 6, 1), latent_dim=2, num_classes=3, hidden_units=(16,), seed=0)
    model.compile("adam")
    return model


def _data(n=24):
    return rng.random((n, 6, 6, 1)).astype("float32"), rng.integers(0, 3, size=n).astype("int32")


def test_trains_on_pairs_in_every_keras_form(cvae):
    x, y = _data()
    cvae.fit(x, y, batch_size=8, epochs=1, verbose=0)
    cvae.fit((x, y), batch_size=8, epochs=1, verbose=0)
    import tensorflow as tf

    cvae.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), epochs=1, shuffle=False, verbose=0)
    result = cvae.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    assert set(result) == {"loss", "reconstruction", "kl"}


def test_label_changes_the_output(cvae):
    x, _ = _data(4)
    a = cvae((x, np.zeros(4, "int32"))).numpy()
    b = cvae((x, np.full(4, 2, "int32"))).numpy()
    assert not np.allclose(a, b)


def test_sample_labels(cvae):
    assert cvae.sample(5, labels=1, seed=0).shape == (5, 6, 6, 1)
    np.testing.assert_array_equal(cvae.sample(5, labels=[0, 1, 2, 0, 1], seed=3).numpy(),
                                  cvae.sample(5, labels=None, seed=3).numpy())
    with pytest.raises(ValueError, match="labels"):
        cvae.sample(5, labels=[0, 1])
    with pytest.raises(ValueError, match="labels must lie in|labels must be ints"):
        cvae.sample(2, labels=3)


@pytest.mark.parametrize(
    "labels, match",
    [(np.array([0, 1, 5, 0]), "labels must"), (np.array([0, -1, 1, 0]), "labels must"),
     (np.array([0.0, 1.0, 1.0, 0.0]), "integers"), (np.zeros((4, 2), "int32"), "shape"),
     # fit/evaluate meet Keras' own cardinality check first; its message is clear too.
     (np.zeros(3, "int32"), "3 labels|cardinality")],
)
@pytest.mark.parametrize("method", ["encode", "fit", "evaluate"])
def test_bad_labels_raise_value_error(cvae, labels, match, method):
    x, _ = _data(4)
    # encode raises ValueError; out-of-range values inside fit/evaluate stop Keras with InvalidArgumentError
    # (dtype, shape and count are refused before any step runs, with ValueError).
    in_step = match == "labels must" and method != "encode"
    with pytest.raises(tf.errors.InvalidArgumentError if in_step else ValueError, match=match):
        if method == "encode":
            cvae.encode(x, labels)
        else:
            getattr(cvae, method)(x, labels, batch_size=4, verbose=0)


def test_unlabelled_data_are_refused(cvae):
    x, _ = _data(4)
    with pytest.raises(ValueError, match="labels"):
        cvae.fit(x, batch_size=4, verbose=0)


def test_rejects_bad_num_classes():
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match="num_classes"):
            tfvae.ConditionalVAE.mlp((4,), latent_dim=2, num_classes=bad)


def test_config_round_trip(cvae):
    clone = tfvae.ConditionalVAE.from_config(cvae.get_config())
    assert clone.get_config() == cvae.get_config()
    assert clone.num_classes == 3


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    model = tfvae.ConditionalVAE.conv((12, 12, 1), latent_dim=3, num_classes=4, filters=(4,), hidden_units=8)
    model.compile("adam")
    x = rng.random((8, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 4, size=8).astype("int32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "cvae.keras")
    np.savez(tmp_path / "ref.npz", x=x, y=y, out=model((x, y)).numpy(), s=model.sample(4, labels=2, seed=9).numpy())
    out = run_python(
        """
        import sys, numpy as np, keras
        import tfvae  # registers the classes
        d = sys.argv[1]
        ref = np.load(f"{d}/ref.npz")
        m = keras.saving.load_model(f"{d}/cvae.keras")
        np.testing.assert_allclose(m((ref["x"], ref["y"])).numpy(), ref["out"], atol=1e-6)
        np.testing.assert_allclose(m.sample(4, labels=2, seed=9).numpy(), ref["s"], atol=1e-6)
        print(type(m).__name__, m.num_classes)
        """,
        args=(str(tmp_path),),
    )
    assert "ConditionalVAE 4" in out


def test_prior_mean_conditioning_round_trips_and_samples_around_the_class_mean(tmp_path):
    import tfvae

    model = tfvae.VAE.mlp((6, 6, 1), latent_dim=3, hidden_units=(8,), num_classes=4, conditioning="prior_mean", seed=1)
    assert model.encoder.inputs[0].shape[1:] == (6, 6, 1) and len(model.encoder.inputs) == 1  # networks see no label
    x = (np.random.default_rng(0).random((5, 6, 6, 1)) > 0.5).astype("float32")
    y = np.array([0, 1, 2, 3, 1])
    # The KL in the loss is to N(mu_y, I): the closed form with the model's own prior means.
    mean, log_var = (t.numpy() for t in model.encode(x))
    mu_y = model.prior_means.numpy()[y]
    kl = 0.5 * np.sum((mean - mu_y) ** 2 + np.exp(log_var) - log_var - 1.0, axis=1)
    np.testing.assert_allclose(model._elbo_terms(x, y, training=False)[1].numpy(), kl, rtol=1e-5, atol=1e-5)
    # sample(label) decodes z = mu_y + eps with the eps of the same seed.
    eps = keras.random.normal((4, 3), seed=7)
    np.testing.assert_allclose(model.sample(4, labels=2, seed=7).numpy(),
                               model.decode(eps + model.prior_means.numpy()[2]).numpy(), rtol=1e-5, atol=1e-6)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.get_config()["conditioning"] == "prior_mean" and loaded.num_classes == 4
    np.testing.assert_array_equal(loaded.prior_means.numpy(), model.prior_means.numpy())
    np.testing.assert_allclose(loaded.sample(4, labels=[0, 1, 2, 3], seed=3).numpy(),
                               model.sample(4, labels=[0, 1, 2, 3], seed=3).numpy(), rtol=1e-6)
    signatures = model.serving_functions()
    names = {k: [s.name for s in f.input_signature] for k, f in signatures.items()}
    assert names["encode"] == ["images"] and names["decode"] == ["latent"] and names["sample"] == ["seed", "label"]


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.ConditionalVAE) >= 6
