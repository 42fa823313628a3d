"""Test configuration: real data from ../shared when it is there, and helpers."""

import os
import pathlib

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
