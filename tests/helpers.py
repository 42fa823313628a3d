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
