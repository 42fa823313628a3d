import os
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import real_data
from tfvae import data


def _first(ds):
    return next(iter(ds))


def test_binarized_mnist_is_binary_with_the_published_splits():
    x = real_data(data.load, "binarized_mnist", "train", batch_size=64)
    batch = _first(x).numpy()
    assert batch.shape == (64, 28, 28, 1) and batch.dtype == np.float32
    assert set(np.unique(batch)) <= {0.0, 1.0}
    sizes = {s: int(data.load("binarized_mnist", s, batch_size=None, cache=False).reduce(0, lambda n, _: n + 1))
             for s in ("train", "validation", "test")}
    assert sizes == {"train": 50_000, "validation": 10_000, "test": 10_000}


def test_mnist_labels_and_grey_levels():
    x, y = _first(real_data(data.load, "mnist", "test", batch_size=256, with_labels=True))
    assert x.shape == (256, 28, 28, 1) and y.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    assert len(np.unique(x.numpy())) > 2  # grey levels, not binary
    assert set(np.unique(y.numpy())) <= set(range(10))


def test_test_split_is_not_shuffled_and_train_split_is_reproducible():
    a = _first(real_data(data.load, "mnist", "test", batch_size=32)).numpy()
    b = _first(data.load("mnist", "test", batch_size=32)).numpy()
    np.testing.assert_array_equal(a, b)
    s1 = _first(data.load("mnist", "train", batch_size=32, seed=3, cache=False)).numpy()
    s2 = _first(data.load("mnist", "train", batch_size=32, seed=3, cache=False)).numpy()
    np.testing.assert_array_equal(s1, s2)


def test_dynamic_binarisation_draws_afresh_every_epoch():
    grey = real_data(data.load_arrays, "mnist", "test", limit=512)
    ds = data.load("mnist", "test", batch_size=512, binarize="dynamic", seed=0, shuffle=False)
    e1, e2 = (next(iter(ds)).numpy() for _ in range(2))
    assert set(np.unique(e1)) <= {0.0, 1.0}
    assert not np.array_equal(e1, e2)
    # Each pixel is Bernoulli(grey level): the means agree within sampling error.
    assert abs(e1.mean() - grey.mean()) < 4 * np.sqrt(0.25 / e1.size) + 1e-3
    # Pixels that are exactly 0 or 1 stay so.
    assert np.all(e1[grey == 0.0] == 0.0) and np.all(e1[grey == 1.0] == 1.0)
    again = next(iter(data.load("mnist", "test", batch_size=512, binarize="dynamic", seed=0, shuffle=False))).numpy()
    np.testing.assert_array_equal(e1, again)


def test_epoch_data_is_a_seeded_permutation_per_epoch():
    grey, labels = real_data(data.load_arrays, "mnist", "test[:600]", with_labels=True)
    make = lambda **kw: data.EpochData("mnist", "test[:600]", 128, seed=4, with_labels=True, **kw)  # noqa: E731

    def epoch(source, k):
        batches = list(source(k).as_numpy_iterator())
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), batches

    source = make()
    x0, y0, batches = epoch(source, 0)
    assert [len(b[0]) for b in batches] == [128] * 4 + [88] and x0.dtype == np.float32
    # Every example once, with its own label: each image is found in the stored split.
    index = {img.tobytes(): i for i, img in enumerate(grey)}
    found = np.array([index[img.tobytes()] for img in x0])
    assert sorted(found) == list(range(600)) and np.array_equal(y0, labels[found])
    assert not np.array_equal(found, np.arange(600))  # shuffled
    np.testing.assert_array_equal(epoch(make(), 0)[0], x0)  # a fresh object gives the same epoch 0
    assert not np.array_equal(epoch(source, 1)[0], x0)  # another epoch, another order
    np.testing.assert_array_equal(epoch(make(shuffle=False), 3)[0], grey)  # stored order
    binary, _, _ = epoch(make(binarize="dynamic"), 0)
    assert set(np.unique(binary)) <= {0.0, 1.0}
    assert not np.array_equal(binary, epoch(make(binarize="dynamic"), 1)[0])


def test_centered_range():
    x = _first(real_data(data.load, "fashion_mnist", "test", batch_size=128, value_range="centered")).numpy()
    assert x.min() >= -0.5 and x.max() <= 0.5 and x.min() < -0.4


def test_frey_face_frames_and_split():
    train = real_data(data.load_arrays, "frey_face", "train")
    test = data.load_arrays("frey_face", "test")
    assert train.shape == (1765, 28, 20, 1) and test.shape == (200, 28, 20, 1)
    assert train.dtype == np.float32 and 0.0 <= train.min() and train.max() <= 1.0
    # DATASETS.md: raw values 8..238
    assert round(float(np.concatenate([train, test]).min()) * 255) == 8
    assert round(float(np.concatenate([train, test]).max()) * 255) == 238


def test_unknown_names_splits_and_options_raise_value_error():
    with pytest.raises(ValueError, match="Unknown data set 'mnsit'"):
        data.load("mnsit")
    with pytest.raises(ValueError, match="splits"):
        data.load("binarized_mnist", "valid")
    with pytest.raises(ValueError, match="binarize"):
        data.load("binarized_mnist", binarize="dynamic")
    with pytest.raises(ValueError, match="no labels"):
        data.load("frey_face", with_labels=True)
    with pytest.raises(ValueError, match="value_range"):
        data.load("mnist", value_range="signed")
    with pytest.raises(ValueError, match="batch_size"):
        data.load("mnist", batch_size=0)


def test_missing_tfds_data_set_fails_fast_with_a_fix(tmp_path):
    start = time.monotonic()
    with pytest.raises(data.DatasetNotAvailableError, match="TFDS_DATA_DIR") as info:
        data.load("cifar10", "test", data_dir=str(tmp_path), download=False)
    assert "internet" in str(info.value) and "cifar10" in str(info.value)
    assert time.monotonic() - start < 30
    assert not os.listdir(tmp_path)  # nothing half-written


def test_missing_frey_face_fails_fast_with_a_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TFVAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(data.DatasetNotAvailableError, match="TFVAE_DATA_DIR"):
        data.load("frey_face", download=False)


def test_offline_environment_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("TFVAE_OFFLINE", "1")
    monkeypatch.setattr(data, "_network_answers", lambda *_: pytest.fail("probed the network while offline"))
    with pytest.raises(data.DatasetNotAvailableError):
        data.load("cifar10", "test", data_dir=str(tmp_path))


def test_corrupt_frey_face_file_is_reported(tmp_path):
    (tmp_path / "frey_rawface.mat").write_bytes(b"not a matlab file")
    with pytest.raises(data.DatasetNotAvailableError, match="not a readable"):
        data.load("frey_face", data_dir=str(tmp_path))
