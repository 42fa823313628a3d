"""Test configuration: real data from ../shared when it is there, and a seed per test."""

import os
import pathlib
import zlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared"

# TFDS reads TFDS_DATA_DIR when it is imported, so this must run before any test module imports it.
if (_SHARED / "tensorflow_datasets").is_dir():
    os.environ.setdefault("TFDS_DATA_DIR", str(_SHARED / "tensorflow_datasets"))
    # The data are local: never reach for the network in tests.
    os.environ.setdefault("TFVAE_OFFLINE", "1")
if (_SHARED / "raw").is_dir():
    os.environ.setdefault("TFVAE_DATA_DIR", str(_SHARED / "raw"))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# The slowest modules, slowest first (summed `--durations` of a full run). With `--dist loadscope`
# (setup.cfg) each module runs whole on one worker, its module fixtures made once, and a free
# worker takes the next module in this order: longest first, so that both workers finish together.
SLOW_MODULES_FIRST = (
    "tests/test_cli.py",
    "tests/test_distribute.py",
    "tests/models/test_vae_real_data.py",
    "tests/test_examples.py",
    "tests/test_docs.py",
    "tests/models/test_pixelcnn_prior.py",
    "tests/models/test_vqvae.py",
    "tests/models/test_vae.py",
    "tests/test_data.py",
    "tests/models/test_autoencoder_real_data.py",
    "tests/models/test_base.py",
    "tests/test_export.py",
)


def pytest_configure(config):
    # A renamed module would silently drop out of the order above and run last; refuse instead.
    missing = [name for name in SLOW_MODULES_FIRST if not (ROOT / name).is_file()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py: SLOW_MODULES_FIRST names missing modules {missing}")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: order within kept


def seed_of(nodeid):
    """The seed of one test: fixed by its id, so the same on every clone, in any order or selection."""
    return zlib.crc32(nodeid.encode()) % (2**31 - 1)


@pytest.fixture(autouse=True)
def _seed_everything(request):
    """Seeds Python, NumPy, TensorFlow and Keras, and the module's `rng`, before every test.

    Without this, weights and draws depend on which tests ran before (or on the
    clock), and a threshold can fail by chance on one clone in many.
    """
    import keras
    import numpy as np

    seed = seed_of(request.node.nodeid)
    keras.utils.set_random_seed(seed)
    if isinstance(getattr(request.module, "rng", None), np.random.Generator):
        request.module.rng = np.random.default_rng(seed)
    yield
