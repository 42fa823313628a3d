"""Export parity: Keras vs SavedModel (fresh process, tfvae never imported) vs TFLite."""

import hashlib
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.helpers import real_data, run_python
from tfvae import export

rng = np.random.default_rng(0)


def _models():
    keras.utils.set_random_seed(0)
    vae = tfvae.VAE.mlp((6, 6, 1), latent_dim=3, hidden_units=(16,))
    cvae = tfvae.ConditionalVAE.conv((8, 8, 1), latent_dim=3, num_classes=3, filters=(4,), hidden_units=8,
                                     likelihood="gaussian")
    vq = tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=4, hidden_filters=8, residual_filters=4,
                          num_residual_blocks=1)
    ema = tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=4, hidden_filters=8, residual_filters=4,
                           num_residual_blocks=1, quantizer="ema", likelihood="bernoulli")
    prior = tfvae.PixelCNNPrior(ema.grid_shape, 8, filters=8, num_layers=2, num_classes=3)
    ae = tfvae.Autoencoder.conv((8, 8, 1), latent_dim=3, filters=(4,), hidden_units=8, noise_stddev=0.2, dropout=0.1)
    aae = tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim=3, hidden_units=(16,), discriminator_units=(8,),
                                           likelihood="bernoulli")
    saae = tfvae.AdversarialAutoencoder.mlp((6, 6, 1), latent_dim=3, hidden_units=(16,), discriminator_units=(8,),
                                            num_classes=3)
    return {"vae": (vae, None), "cvae": (cvae, None), "vqvae": (vq, None), "vqvae_prior": (ema, prior),
            "ae": (ae, None), "aae": (aae, None), "saae": (saae, None)}


def _inputs(model, prior, name, n=4):
    """Example inputs for one signature, by input name."""
    fn = export.serving_functions(model, prior)[name]
    out = {}
    for spec in fn.input_signature:
        shape = (n, *spec.shape[1:])
        if spec.name == "label":
            out["label"] = rng.integers(0, 3, n).astype("int32")
        elif spec.name == "seed":
            out["seed"] = rng.integers(0, 2**40, n).astype("int64")
        elif spec.name == "codes":
            out["codes"] = rng.integers(0, model.num_embeddings, shape).astype("int32")
        elif spec.name == "noise" and prior is not None:
            out["noise"] = rng.random(shape).astype("float32")
        elif spec.name == "images" and str(getattr(model, "likelihood", "")) == "bernoulli":
            out["images"] = (rng.random(shape) < 0.5).astype("float32")
        else:
            out[spec.name] = rng.random(shape).astype("float32")
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    models = _models()
    refs = {}
    for key, (model, prior) in models.items():
        path = export.export_saved_model(model, str(base / key), prior=prior)
        assert path == str(base / key / "1")
        for name, fn in export.serving_functions(model, prior).items():
            inputs = _inputs(model, prior, name)
            outputs = {k: v.numpy() for k, v in fn(**inputs).items()}
            refs[(key, name)] = (inputs, outputs)
    return base, models, refs


def test_signatures_have_named_typed_batch_dynamic_io(exported):
    base, models, _ = exported
    out = subprocess.run(["saved_model_cli", "show", "--dir", str(base / "vqvae_prior" / "1"), "--all"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    for sig in ("serving_default", "encode", "decode", "sample", "sample_from_noise"):
        assert f"signature_def['{sig}']" in out.stdout
    for text in ("inputs['images']", "inputs['codes']", "inputs['seed']", "inputs['label']", "outputs['codes']",
                 "shape: (-1, 12, 12, 1)", "dtype: DT_INT64"):
        assert text in out.stdout, text


def test_savedmodel_in_a_fresh_process_without_tfvae_matches_keras(exported, tmp_path):
    _, _, refs = exported
    np.savez(tmp_path / "refs.npz", **{f"{key}|{name}|{io}|{k}": v
                                        for (key, name), (inputs, outputs) in refs.items()
                                        for io, d in (("in", inputs), ("out", outputs)) for k, v in d.items()})
    base = exported[0]
    out = run_python(
        """
        import sys, numpy as np, tensorflow as tf
        base, refs = sys.argv[1], np.load(sys.argv[2])
        groups = {}
        for key in refs.files:
            model, sig, io, name = key.split("|")
            groups.setdefault((model, sig), {"in": {}, "out": {}})[io][name] = refs[key]
        loaded = {}
        checked = 0
        for (model, sig), d in sorted(groups.items()):
            if model not in loaded:
                loaded[model] = tf.saved_model.load(f"{base}/{model}/1")
            outputs = loaded[model].signatures[sig](**{k: tf.constant(v) for k, v in d["in"].items()})
            assert set(outputs) == set(d["out"]), (model, sig, set(outputs))
            for name, ref in d["out"].items():
                got = outputs[name].numpy()
                if ref.dtype.kind == "i":
                    np.testing.assert_array_equal(got, ref, err_msg=f"{model}/{sig}/{name}")
                else:
                    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5, err_msg=f"{model}/{sig}/{name}")
                checked += 1
        assert not any(m == "tfvae" or m.startswith("tfvae.") for m in sys.modules), "tfvae was imported"
        print("checked", checked)
        """,
        args=(str(base), str(tmp_path / "refs.npz")),
    )
    assert f"checked {sum(len(outputs) for _, outputs in refs.values())}" in out


def _through_the_models_methods(key, model, prior, name, inputs):
    """What signature `name` must return, computed with the model's public methods (Keras' `predict` and the
    models' `encode`, `decode`, `sample_from_noise`), not with the serving functions that are exported."""
    x, labels = inputs.get("images"), inputs.get("label")
    if name == "serving_default":
        data = x if "label" not in inputs else (x, labels)
        return {"reconstruction": model.predict(data, verbose=0)}
    if name == "encode":
        if key in ("vae", "cvae"):
            mean, log_var = model.encode(x, labels)
            return {"mean": mean, "log_var": log_var}
        return {"codes" if key.startswith("vqvae") else "latent": model.encode(x)}
    if name == "decode":
        if key in ("vae", "cvae"):
            return {"images": model.decode(inputs["latent"], labels)}
        return {"images": model.decode(inputs["codes"] if key.startswith("vqvae") else inputs["latent"])}
    if name == "sample_from_noise":
        if prior is not None:
            codes = prior.sample_from_noise(inputs["noise"], labels=labels)
            return {"codes": codes, "images": model.decode(codes)}
        if key == "saae":
            return {"images": model.decode(inputs["noise"] + np.asarray(model.prior_means)[labels])}
        return {"images": model.decode(inputs["noise"], labels) if key == "cvae" else model.decode(inputs["noise"])}
    return None  # `sample` draws per-seed noise inside the graph; checked per seed below


def test_serving_functions_compute_what_the_models_methods_compute(exported):
    """The exported functions against the models' own methods: with the fresh-process test above, the
    SavedModel computes what `predict`, `encode`, `decode` and `sample_from_noise` compute."""
    _, models, refs = exported
    checked = 0
    for (key, name), (inputs, outputs) in refs.items():
        model, prior = models[key]
        expected = _through_the_models_methods(key, model, prior, name, inputs)
        if expected is None:
            continue
        assert set(expected) == set(outputs), (key, name)
        for out, value in expected.items():
            value = np.asarray(value)
            if value.dtype.kind == "i":
                np.testing.assert_array_equal(outputs[out], value, err_msg=f"{key}/{name}/{out}")
            else:
                np.testing.assert_allclose(outputs[out], value, atol=1e-5, rtol=1e-5, err_msg=f"{key}/{name}/{out}")
            checked += 1
    # Every output of every signature but the per-seed `sample` ones.
    assert checked == sum(len(outputs) for (_, name), (_, outputs) in refs.items() if name != "sample") == 29


def test_sample_signature_is_reproducible_per_seed(exported):
    _, models, _ = exported
    model, prior = models["vqvae_prior"]
    fn = export.serving_functions(model, prior)["sample"]
    a = fn(seed=np.array([1, 2, 3]), label=np.array([0, 1, 2], "int32"))
    b = fn(seed=np.array([3, 2, 1]), label=np.array([2, 1, 0], "int32"))
    np.testing.assert_array_equal(a["codes"].numpy()[[0, 2]], b["codes"].numpy()[[2, 0]])
    np.testing.assert_allclose(a["images"].numpy()[1], b["images"].numpy()[1], atol=1e-6)


TFLITE_CASES = [("vae", "serving_default"), ("vae", "encode"), ("vae", "decode"), ("cvae", "decode"),
                ("vqvae", "serving_default"), ("vqvae", "encode"), ("vqvae", "decode"), ("vqvae_prior", "encode"),
                ("ae", "serving_default"), ("ae", "encode"), ("ae", "decode"), ("aae", "decode"),
                ("aae", "sample_from_noise"), ("saae", "sample_from_noise")]


@pytest.mark.parametrize("key, signature", TFLITE_CASES)
def test_tflite_float32_matches_the_savedmodel(exported, tmp_path, key, signature):
    _, models, refs = exported
    model, prior = models[key]
    path = tmp_path / f"{key}_{signature}.tflite"
    assert export.export_tflite(model, str(path), signature=signature, prior=prior) == path.stat().st_size
    inputs, reference = refs[(key, signature)]
    got = export.run_tflite(str(path), inputs)
    for name, ref in reference.items():
        if ref.dtype.kind == "i":
            np.testing.assert_array_equal(got[name], ref)
        else:
            np.testing.assert_allclose(got[name], ref, atol=1e-4, rtol=1e-4)


# Stated tolerances of the quantised variants (max abs difference of outputs in [0, 1] or latents).
QUANTISED_ATOL = {"float16": 5e-3, "dynamic": 5e-2}


@pytest.mark.parametrize("quantization", ["float16", "dynamic"])
@pytest.mark.parametrize("key, signature", [("vae", "decode"), ("vqvae", "decode"), ("vqvae", "serving_default")])
def test_tflite_quantised_within_stated_tolerance(exported, tmp_path, quantization, key, signature):
    _, models, refs = exported
    model, prior = models[key]
    path = tmp_path / "q.tflite"
    export.export_tflite(model, str(path), signature=signature, quantization=quantization, prior=prior)
    inputs, reference = refs[(key, signature)]
    got = export.run_tflite(str(path), inputs)
    for name, ref in reference.items():
        np.testing.assert_allclose(got[name], ref, atol=QUANTISED_ATOL[quantization])


# int8: a VQ-VAE trained briefly on MNIST; the int8 model's test MSE may exceed float32's by at most this factor.
INT8_MAX_MSE_RATIO = 1.5


@pytest.mark.real_data
def test_tflite_int8_reconstruction_error_increase_is_bounded(tmp_path):
    keras.utils.set_random_seed(0)
    train = real_data(tfvae.data.load, "mnist", "train[:20000]", 128, seed=0)
    x_test = tfvae.data.load_arrays("mnist", "test", limit=200)
    x_cal = tfvae.data.load_arrays("mnist", "train", limit=200)
    model = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=64, embedding_dim=8, hidden_filters=32,
                             residual_filters=16, num_residual_blocks=1, data_variance=0.095)
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(train, epochs=1, shuffle=False, verbose=0)
    float_mse = float(np.mean((model.reconstruct(x_test).numpy() - x_test) ** 2))
    path = tmp_path / "int8.tflite"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        export.export_tflite(model, str(path), signature="serving_default", quantization="int8",
                             representative_data=x_cal)
    # TensorFlow's int8 calibrator runs the deprecated tf.lite.Interpreter: nothing for the user to act on.
    assert not [w for w in caught if "tf.lite.Interpreter" in str(w.message)]
    int8_mse = float(np.mean((export.run_tflite(str(path), x_test)["reconstruction"] - x_test) ** 2))
    print(f"float32 MSE {float_mse:.5f}, int8 MSE {int8_mse:.5f}, ratio {int8_mse / float_mse:.3f}")
    assert int8_mse < INT8_MAX_MSE_RATIO * float_mse
    # The int8 encoder often picks a different but equally good neighbouring code (measured: 56% agree);
    # what matters is that its codes reconstruct as well.
    enc = tmp_path / "enc8.tflite"
    export.export_tflite(model, str(enc), signature="encode", quantization="int8", representative_data=x_cal)
    codes_int8 = export.run_tflite(str(enc), x_test)["codes"]
    agreement = np.mean(codes_int8 == model.encode(x_test).numpy())
    codes_mse = float(np.mean((model.decode(codes_int8).numpy() - x_test) ** 2))
    print(f"int8 encoder: same code as float32 at {agreement:.3f} of positions; decoded MSE {codes_mse:.5f}")
    assert codes_mse < INT8_MAX_MSE_RATIO * float_mse


@pytest.mark.parametrize("signature", ["encode", "decode"])
def test_saved_model_cli_runs_encode_and_decode(exported, signature):
    base = exported[0]
    # saved_model_cli takes Python literals on the command line.
    if signature == "encode":
        expr = "images=" + str(np.round(rng.random((2, 12, 12, 1)), 3).tolist())
    else:
        expr = "codes=" + str(rng.integers(0, 8, (2, 3, 3)).tolist())
    proc = subprocess.run(
        ["saved_model_cli", "run", "--dir", str(base / "vqvae" / "1"), "--tag_set", "serve",
         "--signature_def", signature, "--input_exprs", expr],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("codes" if signature == "encode" else "images") in proc.stdout


def _tree_digest(path):
    h = hashlib.sha256()
    for root, _, files in sorted(os.walk(path)):
        for f in sorted(files):
            h.update(f.encode())
            h.update(open(os.path.join(root, f), "rb").read())
    return h.hexdigest()


def test_failed_export_leaves_no_version_and_earlier_versions_untouched(tmp_path, monkeypatch):
    model = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    first = export.export_saved_model(model, str(tmp_path))
    digest = _tree_digest(first)

    def explode(path):
        assert os.path.isdir(os.path.join(path, "variables"))  # the variables are written by now
        raise RuntimeError("injected failure after writing the variables")

    monkeypatch.setattr(export, "_before_publish", explode)
    with pytest.raises(RuntimeError, match="injected"):
        export.export_saved_model(model, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["1"]  # no version 2, no temporary folder
    assert _tree_digest(first) == digest


def test_killed_export_never_shows_a_version(tmp_path):
    model = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    export.export_saved_model(model, str(tmp_path))
    digest = _tree_digest(tmp_path / "1")
    proc = subprocess.run(
        [sys.executable, "-c", f"""
import os, signal
import tfvae
from tfvae import export
export._before_publish = lambda path: os.kill(os.getpid(), signal.SIGKILL)
export.export_saved_model(tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,)), {str(tmp_path)!r})
"""],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.returncode == -9  # killed half-way
    visible = [d for d in os.listdir(tmp_path) if d.isdigit()]
    assert visible == ["1"]  # TF Serving loads only all-digit folders; the dead export's is hidden
    assert _tree_digest(tmp_path / "1") == digest


def test_existing_version_is_not_overwritten_unless_asked(tmp_path):
    model = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    export.export_saved_model(model, str(tmp_path), version=3)
    with pytest.raises(FileExistsError, match="overwrite"):
        export.export_saved_model(model, str(tmp_path), version=3)
    assert export.export_saved_model(model, str(tmp_path), version=3, overwrite=True).endswith("3")
    assert export.export_saved_model(model, str(tmp_path)).endswith("4")
    assert sorted(os.listdir(tmp_path)) == ["3", "4"]


def test_model_config_for_tf_serving(tmp_path):
    text = export.write_model_config(str(tmp_path / "models.config"), {"vae": "/models/vae", "vqvae": "/models/vqvae"})
    assert (tmp_path / "models.config").read_text() == text
    assert text.count("config {") == 2 and "name: 'vqvae'" in text and "base_path: '/models/vae'" in text
    assert "model_platform: 'tensorflow'" in text


def test_bad_export_arguments():
    model = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,))
    with pytest.raises(ValueError, match="serving_functions.*received Sequential"):
        export.serving_functions(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="`prior` goes with a VQVAE; a VAE takes none"):
        export.serving_functions(model, prior=tfvae.PixelCNNPrior((2, 2), 4, filters=4, num_layers=1))
    with pytest.raises(ValueError, match="quantization"):
        export.export_tflite(model, "/tmp/x.tflite", quantization="int4")
    with pytest.raises(ValueError, match="representative_data"):
        export.export_tflite(model, "/tmp/x.tflite", quantization="int8")
    with pytest.raises(ValueError, match="signatures"):
        export.export_tflite(model, "/tmp/x.tflite", signature="generate")
    with pytest.raises(ValueError, match="version"):
        export.export_saved_model(model, "/tmp/tfvae_bad_version", version=0)


def test_any_model_with_serving_functions_exports(tmp_path):
    """export asks the model for its signatures: a user's own model with serving_functions() exports too."""

    class Doubler(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def serving_functions(self):
            spec = tf.TensorSpec((None, 3), tf.float32, name="x")
            return {"serving_default": tf.function(lambda x: {"y": 2.0 * self(x)}, input_signature=[spec])}

    model = Doubler()
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = 2.0 * model(x).numpy()
    folder = export.export_saved_model(model, str(tmp_path / "doubler"))
    np.testing.assert_allclose(export.load_saved_model(folder).signatures["serving_default"](x=x)["y"].numpy(),
                               expected, rtol=1e-6, atol=1e-6)


def test_vqvae_serving_functions_refuse_a_bad_prior_or_temperature():
    vqvae = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, hidden_filters=4, residual_filters=2,
                             num_residual_blocks=0)
    with pytest.raises(ValueError, match="PixelCNNPrior or None; received VAE"):
        vqvae.serving_functions(prior=tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,)))
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 4, filters=4, num_layers=1)
    with pytest.raises(ValueError, match="sample_temperature=0"):
        vqvae.serving_functions(prior=prior, sample_temperature=0)
    with pytest.raises(ValueError, match="grid"):
        vqvae.serving_functions(prior=tfvae.PixelCNNPrior((3, 3), 4, filters=4, num_layers=1))
    assert set(vqvae.serving_functions(prior=prior)) == {"serving_default", "encode", "decode", "sample",
                                                          "sample_from_noise"}


def test_the_saved_model_records_the_value_range(tmp_path):
    model = tfvae.VAE.mlp((4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood="gaussian", value_range="centered")
    folder = export.export_saved_model(model, str(tmp_path / "vae"))
    loaded = tf.saved_model.load(folder)
    np.testing.assert_array_equal(loaded.value_range[0].numpy(), [-0.5, 0.5])
