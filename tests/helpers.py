"""Shared test helpers."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT


def real_data(fn, *args, **kwargs):
    """Calls a loader; a missing data set fails under CI and skips elsewhere."""
    from tfvae.data import DatasetNotAvailableError

    try:
        return fn(*args, **kwargs)
    except DatasetNotAvailableError as e:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but a real data set is missing: {e}")
        pytest.skip(f"real data set not available: {e}")


def run_python(code, timeout=300, cwd=None, args=()):
    """Runs `code` in a fresh Python process; returns stdout, failing the test on a non-zero exit."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=env,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"subprocess failed ({proc.returncode}):\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-5000:]}"
        )
    return proc.stdout


def run_docstring_example(cls):
    """Runs the Example of `cls`'s docstring (on MNIST) with doctest; returns the number of statements run."""
    import doctest

    import tfvae

    real_data(tfvae.data.load, "mnist", "test", 10)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder(recurse=False).find(cls, cls.__name__, globs={}):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} of {runner.tries} doctest statements failed"
    return runner.tries


def fit_and_check_bounds(vae, x, num_samples=1, epochs=3):
    """Trains `vae` on `x` (Adam 1e-2, batches of 50), then checks that evaluate()'s reported loss and
    -log_likelihood(x, num_samples) estimate the same bound (within 5 standard errors of their difference)
    and that 50 importance samples give a tighter one. Returns the per-example -ELBO (one draw)."""
    import keras
    import numpy as np

    vae.compile(keras.optimizers.Adam(1e-2))
    logs = vae.fit(x, batch_size=50, epochs=epochs, verbose=0).history
    assert np.all(np.isfinite(logs["loss"]))
    reported = vae.evaluate(x, batch_size=100, verbose=0, return_dict=True)["loss"]
    bound = -vae.log_likelihood(x, num_samples=num_samples, seed=3)
    se = bound.std() / np.sqrt(len(x))
    assert abs(reported - bound.mean()) < 5 * np.sqrt(2) * se, (reported, bound.mean(), se)
    elbo = bound if num_samples == 1 else -vae.log_likelihood(x, num_samples=1, seed=3)
    assert -vae.log_likelihood(x, num_samples=50, seed=3).mean() < elbo.mean()
    return elbo


def warnings_of_fit(vae, x, containing, callbacks=()):
    """Compiles `vae` (Adam 1e-3) and fits it on `x` for 2 epochs of batches of 16; returns the messages of the
    warnings raised meanwhile that contain `containing`, each warning recorded however often it was raised."""
    import warnings

    import keras

    vae.compile(keras.optimizers.Adam(1e-3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vae.fit(x, batch_size=16, epochs=2, verbose=0, callbacks=list(callbacks))
    return [str(w.message) for w in caught if containing in str(w.message)]


def check_vqvae_save_and_tflite(model, x, tmp_path, tflite=True):
    """A trained VQ-VAE: the `.keras` round trip gives the same codes and decodings, and (if `tflite`) the
    exported encode / decode graphs agree with `encode` / `decode` (codes on 99% of positions: an encoder
    output within rounding of a tie may take the other code; images within 1e-4). Returns the loaded model."""
    import keras
    import numpy as np

    from tfvae import export

    codes = model.encode(x).numpy()
    decoded = model.decode(codes).numpy()
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.encode(x).numpy(), codes)
    np.testing.assert_allclose(loaded.decode(codes).numpy(), decoded, atol=1e-6)
    if tflite:
        for signature, inputs, output in (("encode", {"images": x}, "codes"), ("decode", {"codes": codes}, "images")):
            path = str(tmp_path / f"{signature}.tflite")
            export.export_tflite(model, path, signature=signature)
            got = export.run_tflite(path, inputs)[output]
            if signature == "encode":
                assert np.mean(got == codes) > 0.99
            else:
                np.testing.assert_allclose(got, decoded, atol=1e-4)
    return loaded


def fit_under_mixed_float16(make_model, x):
    """Builds `make_model()` under the mixed_float16 policy and fits it one epoch on `x`: every logged figure
    finite, the quantizer computing in float32. Restores the float32 policy."""
    import keras
    import numpy as np

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = make_model()
        model.compile(keras.optimizers.Adam(1e-3))
        logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
        assert all(np.isfinite(v[0]) for v in logs.values())
        assert model.quantizer.compute_dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
