"""Export to TF Serving SavedModels and to TFLite (LiteRT) models on builtin ops.

SavedModels are written in TF Serving's layout, `base_dir/<version>/`, with named
signatures whose inputs and outputs are named, typed and batch-dynamic. They
hold only TensorFlow graphs and variables: loading them needs no tfvae code.

| model | signatures (inputs -> outputs) |
|---|---|
| `VAE` | `serving_default` (images -> reconstruction), `encode` (images -> mean, log_var), `decode` (latent -> images), `sample` (seed -> images), `sample_from_noise` (noise -> images) |
| `ConditionalVAE` | the same, each with an extra `label` input |
| `VQVAE` | `serving_default` (images -> reconstruction), `encode` (images -> codes), `decode` (codes -> images) |
| `VQVAE` + `PixelCNNPrior` | the VQVAE's, plus `sample` (seed -> images, codes) and `sample_from_noise` (noise -> images, codes), with `label` when the prior is conditional |
| `Autoencoder` | `serving_default` (images -> reconstruction), `encode` (images -> latent), `decode` (latent -> images) |
| `AdversarialAutoencoder` | the Autoencoder's, plus `sample` (seed -> images) and `sample_from_noise` (noise -> images) |

`sample` takes one int64 seed per requested image, so a request is
reproducible and the batch dimension stays dynamic; `sample_from_noise` takes
the random numbers themselves (VAE and adversarial autoencoder: N(0, 1) latents; prior: U(0, 1), one per
code position).
"""

import inspect
import os
import re
import shutil
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfvae._io import write_atomically

__all__ = [
    "export_saved_model",
    "export_tflite",
    "load_saved_model",
    "run_tflite",
    "serving_functions",
    "write_model_config",
]

QUANTIZATIONS = (None, "float16", "dynamic", "int8")
_VERSION = re.compile(r"^\d+$")


def serving_functions(model, prior=None, sample_temperature=1.0):
    """The exported functions of a model: `{signature: tf.function with input_signature}`.

    The model's own `serving_functions` (see `VAE.serving_functions` and
    `VQVAE.serving_functions`); calling them runs the model itself, which makes
    them the Keras-side reference for export parity.
    """
    make = getattr(model, "serving_functions", None)
    if not callable(make):
        raise ValueError(
            f"export needs a model with serving_functions() (tfvae's VAE, ConditionalVAE, VQVAE with an optional "
            f"PixelCNNPrior, Autoencoder and AdversarialAutoencoder); received {type(model).__name__}."
        )
    if prior is None:
        return make()
    if "prior" not in inspect.signature(make).parameters:
        raise ValueError(f"`prior` goes with a VQVAE; a {type(model).__name__} takes none.")
    return make(prior=prior, sample_temperature=sample_temperature)


def _existing_versions(base_dir):
    return sorted(
        int(d) for d in os.listdir(base_dir) if _VERSION.match(d) and os.path.isdir(os.path.join(base_dir, d))
    )


def _before_publish(path):
    """Called once the SavedModel is complete in its temporary folder (a seam for tests)."""


def export_saved_model(model, base_dir, version=None, prior=None, overwrite=False, sample_temperature=1.0):
    """Writes `model` as `base_dir/<version>/` for TF Serving; returns that folder.

    The SavedModel is written into a hidden temporary folder beside the
    versions (TF Serving only loads folders named by an integer) and renamed
    into place when complete, so a server polling `base_dir` never sees a
    half-written version, and a failed export leaves nothing behind.

    Args:
        model: a tfvae model (see the table above), or any model with `serving_functions()`.
        base_dir: str. The model's folder in TF Serving's model base path.
        version: int >= 1 or None. None: one more than the largest existing.
        prior: `PixelCNNPrior` or None. With a `VQVAE`, adds `sample` signatures.
        overwrite: bool. Replace an existing version (refused otherwise).
        sample_temperature: float > 0. The prior's temperature in `sample`.

    Raises:
        FileExistsError: the version exists and `overwrite` is False.
        ValueError: an unsupported model, a bad version or an incompatible prior.
    """
    functions = serving_functions(model, prior, sample_temperature)
    os.makedirs(base_dir, exist_ok=True)
    if version is None:
        version = (_existing_versions(base_dir) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"`version` must be a positive int or None; received version={version!r}.")
    target = os.path.join(base_dir, str(int(version)))
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it or choose another version.")

    archive = keras.export.ExportArchive()
    archive.track(model)
    if prior is not None:
        archive.track(prior)
    bounds = getattr(model, "value_bounds", None)
    if bounds is not None:
        # The range of the images the signatures take and give, for clients
        # (`tf.saved_model.load(path).value_range`), e.g. to display samples.
        archive.add_variable_collection("value_range", [tf.Variable(bounds, dtype=tf.float32, trainable=False,
                                                                    name="value_range")])
    # serving_default first: TF Serving's default signature.
    for name in ["serving_default"] + [n for n in functions if n != "serving_default"]:
        archive.add_endpoint(name, functions[name])

    tmp = tempfile.mkdtemp(prefix=f".tmp-{int(version)}-", dir=base_dir)
    try:
        archive.write_out(tmp, verbose=False)
        _before_publish(tmp)
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=f".old-{int(version)}-", dir=base_dir)
            os.rename(target, os.path.join(old, "v"))
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)  # atomic on one file system
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_saved_model(path):
    """`tf.saved_model.load` with a clear `ValueError` for a folder that is not a SavedModel."""
    if not os.path.isdir(path):
        raise ValueError(f"{path} is not a folder; expected a SavedModel version folder such as serving/vae/1.")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        versions = _existing_versions(path)
        hint = f" It holds versions {versions}: pass {os.path.join(path, str(versions[-1]))}." if versions else ""
        raise ValueError(f"{path} is not a SavedModel folder (no saved_model.pb).{hint}")
    try:
        return tf.saved_model.load(path)
    except Exception as e:  # a damaged SavedModel raises several kinds
        raise ValueError(f"{path} could not be loaded as a SavedModel: {type(e).__name__}: {str(e)[:300]}") from None


def write_model_config(path, models):
    """Writes a TF Serving `models.config` for `{name: base_path}` (atomically); returns its text."""
    lines = ["model_config_list {"]
    for name, base_path in models.items():
        lines += ["  config {", f"    name: '{name}'", f"    base_path: '{base_path}'",
                  "    model_platform: 'tensorflow'", "  }"]
    text = "\n".join(lines + ["}"]) + "\n"
    write_atomically(path, text)
    return text


def _representative(data, signature_inputs):
    """Yields dicts of single examples for the int8 calibration."""
    if isinstance(data, dict):
        n = len(next(iter(data.values())))
        for i in range(n):
            yield {k: np.asarray(v[i : i + 1]) for k, v in data.items()}
    else:
        (name,) = signature_inputs
        for i in range(len(data)):
            yield {name: np.asarray(data[i : i + 1])}


def export_tflite(model, path, signature="decode", quantization=None, representative_data=None, prior=None):
    """Converts one signature to a `.tflite` file that runs on TFLite builtin ops only.

    Args:
        model: as for `export_saved_model`.
        path: str. The `.tflite` file (written atomically).
        signature: str. A signature of `export_saved_model`'s table.
        quantization: None (float32), "float16" (float16 weights), "dynamic"
            (int8 weights, float activations) or "int8" (int8 weights and
            activations, calibrated on `representative_data`; inputs and
            outputs stay float32/int32).
        representative_data: array of inputs, or dict of arrays by input name
            (int8 only): a few hundred typical examples.
        prior: `PixelCNNPrior` or None, as for `export_saved_model`.

    Returns:
        The file's size in bytes.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}; received quantization={quantization!r}.")
    if quantization == "int8" and representative_data is None:
        raise ValueError("quantization='int8' needs representative_data to calibrate activations.")
    functions = serving_functions(model, prior)
    if signature not in functions:
        raise ValueError(
            f"{type(model).__name__} has signatures {sorted(functions)}; received signature={signature!r}."
        )
    with tempfile.TemporaryDirectory() as tmp:
        saved = export_saved_model(model, tmp, version=1, prior=prior)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[signature])
        # Builtin ops only: the model must run on LiteRT's standard runtime, no Flex delegate.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "dynamic":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        elif quantization == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            names = [s.name for s in functions[signature].input_signature]
            converter.representative_dataset = lambda: _representative(representative_data, names)
            # Full-integer: every op in int8; only the float inputs/outputs are (de)quantised at the edges.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        with warnings.catch_warnings():
            # int8 calibration runs TensorFlow's deprecated tf.lite.Interpreter inside convert(); its
            # deprecation warning is not the user's to act on (tfvae runs .tflite files with LiteRT).
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf\.lite\.Interpreter is deprecated",
                                    category=UserWarning)
            flatbuffer = converter.convert()
    write_atomically(path, flatbuffer)
    return len(flatbuffer)


def run_tflite(path, inputs, signature=None):
    """Runs a `.tflite` signature with LiteRT's interpreter (`ai_edge_litert`).

    Args:
        path: str. A file from `export_tflite`.
        inputs: dict of arrays by input name, or one array for a one-input signature.
        signature: str or None. None: the file's only signature.

    Returns:
        dict of NumPy outputs by name.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    signatures = interpreter.get_signature_list()
    if signature is None:
        if len(signatures) != 1:
            raise ValueError(f"{path} has signatures {sorted(signatures)}; pass signature=.")
        signature = next(iter(signatures))
    if signature not in signatures:
        raise ValueError(f"{path} has signatures {sorted(signatures)}; received signature={signature!r}.")
    runner = interpreter.get_signature_runner(signature)
    if not isinstance(inputs, dict):
        (name,) = signatures[signature]["inputs"]
        inputs = {name: inputs}
    details = runner.get_input_details()
    feed = {name: np.asarray(value, dtype=details[name]["dtype"]) for name, value in inputs.items()}
    return runner(**feed)
