"""Data sets as `tf.data.Dataset`s of float images, ready for `fit`.

`load` reads the data sets tfvae knows by name (`binarized_mnist`, `mnist`,
`fashion_mnist`, `cifar10` from TFDS, and Frey Face), any other TFDS image data
set, a folder of image files, or NumPy arrays and `.npy`/`.npz` files (see
`DataSource`), resizes them if asked (`image_size=`, `channels=`), scales pixels to [0, 1] (or [-0.5, 0.5]) and does the
pipeline work in the right order: decode, cache (the stored uint8 pixels),
shuffle, batch, then scale and redraw a per-epoch random binarisation once per
batch (vectorised, in parallel), prefetch.

Where data come from:
  * TFDS data sets: `data_dir`, else the environment variable `TFDS_DATA_DIR`
    (read at every call, not only when TFDS is imported), else TFDS' default.
    Prepared data are never downloaded again.
  * Frey Face: `frey_rawface.mat` in `data_dir`, `$TFVAE_DATA_DIR` or the cache
    `~/.cache/tfvae` (directly or in a `frey_face/` folder), else downloaded
    from its public home into the cache.

A data set that is not on disk is downloaded only when the network answers
within seconds; with `download=False` or `TFVAE_OFFLINE=1` it never is. Either
way a missing data set raises `DatasetNotAvailableError` saying how to fix it.
"""

import dataclasses
import os
import socket
import urllib.request

import numpy as np
import tensorflow as tf

from tfvae._checks import VALUE_RANGES as _VALUE_BOUNDS
from tfvae._checks import check_positive_int
from tfvae._io import write_atomically
from tfvae.data.data_source import DataSource

__all__ = [
    "DATASETS",
    "DataSource",
    "DatasetInfo",
    "DatasetNotAvailableError",
    "EpochData",
    "dataset_info",
    "epoch_seed",
    "load",
    "load_arrays",
    "pixel_variance",
    "source",
]


class DatasetNotAvailableError(RuntimeError):
    """A data set is neither on disk nor downloadable right now."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What `load` knows of a data set before reading it."""

    name: str
    image_shape: tuple
    num_classes: int  # 0: no labels
    splits: tuple
    binary: bool  # pixels already in {0, 1}
    source: str  # "tfds", "frey_face", "folder" or "arrays"
    pixel_scale: float = None  # arrays: what stored values are divided by (255 for uint8; None: floats in [0, 1])

    @property
    def eight_bit(self):
        """Whether the pixels are the 256 levels of 8-bit data (the discretised likelihoods' data)."""
        return not self.binary and _pixel_scale(self) == 255.0


DATASETS = {
    "binarized_mnist": DatasetInfo("binarized_mnist", (28, 28, 1), 0, ("train", "validation", "test"), True, "tfds"),
    "mnist": DatasetInfo("mnist", (28, 28, 1), 10, ("train", "test"), False, "tfds"),
    "fashion_mnist": DatasetInfo("fashion_mnist", (28, 28, 1), 10, ("train", "test"), False, "tfds"),
    "cifar10": DatasetInfo("cifar10", (32, 32, 3), 10, ("train", "test"), False, "tfds"),
    "frey_face": DatasetInfo("frey_face", (28, 20, 1), 0, ("train", "test", "all"), False, "frey_face"),
}
"""The named data sets: name -> `DatasetInfo` (image shape, classes, splits, whether binary, where stored)."""

# Frey Face has no official split. Its 1,965 frames are a video: a random split
# would put near-copies of test frames in training, so the test set is the last
# 200 frames.
FREY_FACE_TEST_SIZE = 200
FREY_FACE_URL = "https://cs.nyu.edu/~roweis/data/frey_rawface.mat"
FREY_FACE_FILE = "frey_rawface.mat"
_TFDS_HOST = ("storage.googleapis.com", 443)
_PROBE_TIMEOUT_S = 5.0
VALUE_RANGES = tuple(_VALUE_BOUNDS)  # "unit": [0, 1]; "centered": [-0.5, 0.5]


def epoch_seed(seed, epoch):
    """The one int derived from (seed, epoch) that seeds everything random in that epoch.

    Plain arithmetic, so that it also works on int64 tensors inside a tf.data pipeline.
    """
    return seed * 1_000_003 + epoch


def _pixel_scale(info):
    """What stored pixel values are divided by to lie in [0, 1] (None: float sources, scaled already)."""
    if info.source == "arrays":
        return info.pixel_scale
    return 1.0 if info.binary else 255.0


def _prepare(images, scale, value_range, binarize_seed=None):
    """The one preparation of stored images for the models, shared by `load` and `EpochData`: float32 scaled
    by 1 / `scale` (None: as given), a fresh Bernoulli draw per pixel from the stateless `binarize_seed`
    (dynamic binarisation; None: none), shifted to [-0.5, 0.5] for `value_range="centered"`."""
    x = images if scale is None else tf.cast(images, tf.float32) / scale
    if binarize_seed is not None:
        x = tf.cast(tf.random.stateless_uniform(tf.shape(x), seed=binarize_seed) < x, tf.float32)
    if value_range == "centered":
        x = x - 0.5
    return x


def source(name, **options):
    """`name` as a `DataSource` (returned as it is if it is one); `options` are `DataSource`'s."""
    if isinstance(name, DataSource):
        if any(v is not None for k, v in options.items() if k != "resize"):
            raise ValueError(f"Give source options to the DataSource, not again to the loader; received {options}.")
        return name
    return DataSource(name, **options)


def dataset_info(name, **options):
    """The `DatasetInfo` of a source (a name, path, arrays or `DataSource`; `options` as `DataSource`'s);
    `ValueError` for an unknown name or a bad source."""
    return source(name, **options).info


def _offline():
    return os.environ.get("TFVAE_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _network_answers(host_port):
    try:
        with socket.create_connection(host_port, timeout=_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _may_download(download, host_port):
    if download is False or (download is None and _offline()):
        return False
    return _network_answers(host_port)


def _tfds_data_dir(data_dir):
    return data_dir or os.environ.get("TFDS_DATA_DIR") or None


def _split_base(split):
    return split.split("[")[0].split("+")[0].strip()


def _tfds_dataset(info, split, data_dir, download, shuffle_files, seed):
    import tensorflow_datasets as tfds

    data_dir = _tfds_data_dir(data_dir)
    builder = tfds.builder(info.name, data_dir=data_dir)
    if not builder.is_prepared():
        if not _may_download(download, _TFDS_HOST):
            raise DatasetNotAvailableError(
                f"Data set {info.name!r} is not prepared in {builder.data_dir!r} and cannot be "
                "downloaded now (offline, download=False or TFVAE_OFFLINE=1). Fix: point "
                "TFDS_DATA_DIR (or data_dir=) at a folder that holds it in TFDS' prepared format, "
                "or run once with internet access so that TFDS downloads and prepares it."
            )
        builder.download_and_prepare()
    # No TFDS auto-cache: `load(cache=True)` caches after selecting the fields, and a cache that a reader
    # leaves half-read (load_arrays(limit=...)) makes TensorFlow warn that it discards it.
    read_config = tfds.ReadConfig(shuffle_seed=seed if shuffle_files else None, try_autocache=False)
    return builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)


def _frey_face_candidates(data_dir):
    roots = [data_dir, os.environ.get("TFVAE_DATA_DIR"), _cache_dir()]
    for root in roots:
        if root:
            yield os.path.join(root, FREY_FACE_FILE)
            yield os.path.join(root, "frey_face", FREY_FACE_FILE)


def _cache_dir():
    return os.path.join(os.path.expanduser("~"), ".cache", "tfvae")


def _download_frey_face():
    target = os.path.join(_cache_dir(), "frey_face", FREY_FACE_FILE)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        with urllib.request.urlopen(FREY_FACE_URL, timeout=30) as response:
            write_atomically(target, response.read())  # never a half-written file under the real name
    except OSError as e:
        raise DatasetNotAvailableError(f"Downloading Frey Face from {FREY_FACE_URL} failed: {e}") from e
    return target


def _frey_face_frames(data_dir, download):
    """All 1,965 frames as uint8 `(1965, 28, 20, 1)`."""
    import scipy.io

    path = next((p for p in _frey_face_candidates(data_dir) if os.path.isfile(p)), None)
    if path is None:
        host = ("cs.nyu.edu", 443)
        if not _may_download(download, host):
            raise DatasetNotAvailableError(
                f"Frey Face ({FREY_FACE_FILE}) was not found in data_dir, $TFVAE_DATA_DIR or "
                f"{_cache_dir()}, and cannot be downloaded now. Fix: set TFVAE_DATA_DIR (or data_dir=) "
                f"to a folder holding {FREY_FACE_FILE} (directly or under frey_face/), or run once "
                f"with internet access to fetch it from {FREY_FACE_URL}."
            )
        path = _download_frey_face()
    try:
        ff = scipy.io.loadmat(path)["ff"]
    except Exception as e:  # scipy raises several types for a bad file
        raise DatasetNotAvailableError(f"{path} is not a readable Frey Face MATLAB file: {e}") from e
    if ff.shape != (560, 1965):
        raise DatasetNotAvailableError(f"{path}: expected 'ff' of shape (560, 1965); found {ff.shape}.")
    # Column k is image k, stored row-major as 28 rows of 20 pixels.
    return np.ascontiguousarray(ff.T.reshape(-1, 28, 20, 1)).astype(np.uint8)


def _frey_face_split(frames, split):
    if split == "train":
        return frames[:-FREY_FACE_TEST_SIZE]
    if split == "test":
        return frames[-FREY_FACE_TEST_SIZE:]
    if split == "all":
        return frames
    raise ValueError(f"frey_face has splits 'train', 'test' and 'all'; received split={split!r}.")


def _check_args(info, split, batch_size, binarize, value_range, with_labels):
    if not isinstance(split, str) or (info.splits is not None and _split_base(split) not in info.splits):
        raise ValueError(f"{info.name} has splits {info.splits}; received split={split!r}.")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive int or None; received batch_size={batch_size!r}.")
    if binarize not in (None, "dynamic"):
        raise ValueError(f"`binarize` must be None or 'dynamic'; received binarize={binarize!r}.")
    if binarize and (info.binary or info.image_shape[-1] != 1):
        raise ValueError(
            f"Dynamic binarisation applies to grey-level data sets (mnist, fashion_mnist); "
            f"received binarize='dynamic' for {info.name!r}."
        )
    if value_range not in VALUE_RANGES:
        raise ValueError(f"`value_range` must be one of {VALUE_RANGES}; received value_range={value_range!r}.")
    if with_labels and not info.num_classes:
        raise ValueError(f"{info.name!r} has no labels; received with_labels=True.")


def load(
    name,
    split="train",
    batch_size=128,
    *,
    with_labels=False,
    binarize=None,
    value_range="unit",
    shuffle=None,
    shuffle_buffer=10_000,
    seed=None,
    cache=True,
    drop_remainder=False,
    data_dir=None,
    download=None,
    image_size=None,
    channels=None,
    resize="crop",
    image_key=None,
    label_key=None,
    float_range=None,
):
    """A batched, prefetched `tf.data.Dataset` of float32 images.

    Args:
        name: str, path, arrays or `DataSource`. One of `DATASETS`:
            "binarized_mnist" (Larochelle's fixed binarisation, 50k/10k/10k),
            "mnist", "fashion_mnist", "cifar10", "frey_face"; or any TFDS image
            data set by name, a folder of images, a `.npy`/`.npz` file, an
            array or `(images, labels)` (see `DataSource`).
        split: str. A split of the data set ("train", "test", ...); TFDS data
            sets also take TFDS slices such as "train[:10%]". Folders and
            arrays without splits of their own have "train", "test" (every
            10th example) and "all".
        batch_size: int or None. None yields single examples.
        with_labels: bool. Yield `(image, label)` pairs (int32 labels).
        binarize: None or "dynamic". "dynamic" replaces each grey level p by a
            fresh Bernoulli(p) draw every epoch (mnist, fashion_mnist).
        value_range: str. "unit" for [0, 1] or "centered" for [-0.5, 0.5].
        shuffle: bool or None. None shuffles training splits only.
        shuffle_buffer: int. Examples in the shuffle buffer.
        seed: int or None. Seeds file order, shuffling and binarisation, so a
            seeded pipeline yields the same epochs in every run.
        cache: bool. Keep the stored (uint8) examples in memory after the first epoch.
        drop_remainder: bool. Drop a last, smaller batch.
        data_dir: str or None. Where the data set lives (see module docstring).
        download: bool or None. False never downloads; None downloads a missing
            data set when online, unless TFVAE_OFFLINE=1.
        image_size: int, `(h, w)` or None (see `DataSource`): e.g.
            `image_size=(64, 64)` crops each image to a square at its centre
            and resizes it, keeping 8-bit data on their 256 levels.
        channels: 1, 3 or None (see `DataSource`).
        resize: "crop" or "pad" (see `DataSource`).
        image_key: str or None (see `DataSource`).
        label_key: str or None (see `DataSource`).
        float_range: `(low, high)` or None (see `DataSource`).

    Returns:
        A `tf.data.Dataset` of images `(batch, *image_shape)` float32, or of
        `(images, labels)` pairs.

    Raises:
        ValueError: an unknown name, split or option.
        DatasetNotAvailableError: the data set is not on disk and cannot be
            downloaded now; the message says how to fix it.
    """
    src = source(name, image_size=image_size, channels=channels, resize=resize, image_key=image_key,
                 label_key=label_key, float_range=float_range, data_dir=data_dir, download=download)
    info = src.info
    _check_args(info, split, batch_size, binarize, value_range, with_labels)
    if shuffle is None:
        shuffle = _split_base(split) == "train"
    ds = src.examples(split, with_labels, bool(shuffle), seed)

    def prepare(batch, seed=None):
        # Runs once per batch (vectorised): cache and shuffle move raw uint8
        # examples, a quarter of the float32 size, with no per-example work.
        images, rest = (batch[0], batch[1:]) if with_labels else (batch, ())
        x = _prepare(images, _pixel_scale(info), value_range, seed)
        return (x, *rest) if rest else x

    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    if binarize == "dynamic":
        # One random seed per batch (or example), redrawn every epoch: a fresh
        # binarisation each pass that is still reproducible for a seeded pipeline.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(lambda batch, s: prepare(batch, s),
                                                  num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda *batch: prepare(batch if with_labels else batch[0]), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(name, split="test", *, with_labels=False, limit=None, **kwargs):
    """A split as NumPy arrays (images, or `(images, labels)`), unshuffled.

    Convenient for evaluation and tests. `limit` keeps the first `limit`
    examples; other keyword arguments go to `load`.
    """
    kwargs.setdefault("shuffle", False)
    kwargs.setdefault("cache", False)
    ds = load(name, split, batch_size=1024, with_labels=with_labels, **kwargs)
    if limit is not None:
        ds = ds.unbatch().take(limit).batch(1024)
    parts = list(ds.as_numpy_iterator())
    if with_labels:
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return np.concatenate(parts)


def pixel_variance(name, split="train", **kwargs):
    """Variance of all pixel values of a split (as `load` scales them), in float64.

    The VQ-VAE divides its squared error by this, as the keras.io example does
    (np.var(x_train / 255.0) for MNIST). Streams the data; keyword arguments go
    to `load`.
    """
    kwargs.setdefault("shuffle", False)
    kwargs.setdefault("cache", False)
    total = total_sq = 0.0
    count = 0
    for batch in load(name, split, batch_size=2048, **kwargs).as_numpy_iterator():
        b = batch[0] if isinstance(batch, tuple) else batch
        b = b.astype(np.float64)
        total += b.sum()
        total_sq += np.square(b).sum()
        count += b.size
    mean = total / count
    return float(total_sq / count - mean * mean)


class EpochData:
    """Training data whose every epoch is a function of (seed, epoch) alone.

    `load` shuffles with one random stream over the whole run, so epoch k's
    order depends on the k - 1 epochs before it in the same process. Resuming
    from a checkpoint needs epoch k by itself: `EpochData` keeps the split in
    memory (as uint8, as stored) and draws each epoch's order and dynamic
    binarisation from stateless ops keyed by (seed, epoch).

    `dataset(initial_epoch, epochs)` is the one dataset of a whole training run
    for `model.fit(..., steps_per_epoch=data.steps_per_epoch(),
    initial_epoch=initial_epoch, epochs=epochs)`: its batches are those of
    epochs `initial_epoch` to `epochs - 1` in turn, so one `fit()` call trains
    the run and a resumed run sees exactly what an uninterrupted one would.

    Args:
        name: str, path, `DataSource` or None: a source as for `load`; None with `arrays`.
        split: as for `load`.
        with_labels: as for `load`.
        binarize: as for `load`.
        value_range: as for `load`.
        data_dir: as for `load`.
        download: as for `load`.
        batch_size: int.
        seed: int. Base seed.
        shuffle: bool.
        arrays: (images,) or (images, labels) already in memory, used as they
            are (e.g. a VQ-VAE's code grids), instead of `name`.

    Call: `epoch_data(epoch)` returns that one epoch's `tf.data.Dataset`.
    """

    def __init__(self, name=None, split="train", batch_size=128, seed=0, *, with_labels=False, binarize=None,
                 value_range="unit", shuffle=True, data_dir=None, download=None, arrays=None, **source_options):
        if (name is None) == (arrays is None):
            raise ValueError(f"Give a data set name or arrays, not both or neither; received name={name!r} "
                             f"and arrays={'None' if arrays is None else 'given'}.")
        check_positive_int(batch_size, "batch_size")
        self.batch_size, self.seed, self.shuffle = int(batch_size), int(seed), shuffle
        self.with_labels, self.binarize, self.value_range = with_labels, binarize, value_range
        if arrays is not None:
            arrays = tuple(np.asarray(a) for a in arrays)
            if not 1 <= len(arrays) <= 2 or any(len(a) != len(arrays[0]) for a in arrays):
                raise ValueError("`arrays` must be (inputs,) or (inputs, labels) of one length; received "
                                 f"{len(arrays)} arrays of lengths {[len(a) for a in arrays]}.")
            self.info, self.with_labels, self.binarize, self.value_range = None, len(arrays) == 2, None, None
            self.images, self.labels = arrays[0], (arrays[1] if len(arrays) == 2 else None)
        else:
            src = source(name, data_dir=data_dir, download=download, **source_options)
            info = src.info
            _check_args(info, split, batch_size, binarize, value_range, with_labels)
            self.info = info
            images, labels = [], []
            for batch in src.examples(split, with_labels).batch(4096).as_numpy_iterator():
                images.append(batch[0] if with_labels else batch)
                if with_labels:
                    labels.append(batch[1])
            self.images = np.concatenate(images)
            self.labels = np.concatenate(labels) if with_labels else None
        self._tensors = None

    def __len__(self):
        return len(self.images)

    def steps_per_epoch(self):
        return -(-len(self.images) // self.batch_size)

    def pixel_variance(self):
        """Variance of all pixel values, scaled as `load` scales them, in float64."""
        if self.info is None:
            raise ValueError("pixel_variance needs a named data set; these data were given as arrays.")
        return float(np.var(self.images.astype(np.float64) / (_pixel_scale(self.info) or 1.0)))

    def __call__(self, epoch):
        return self.dataset(epoch, epoch + 1)

    def dataset(self, initial_epoch, epochs):
        """Batches of epochs `initial_epoch` .. `epochs - 1`, one epoch after another."""
        if not 0 <= int(initial_epoch) <= int(epochs):
            raise ValueError(f"Need 0 <= initial_epoch <= epochs; received initial_epoch={initial_epoch}, "
                             f"epochs={epochs}.")
        n, size = len(self.images), self.batch_size
        if self._tensors is None:
            self._tensors = tuple(tf.constant(a) for a in ((self.images, self.labels) if self.with_labels
                                                          else (self.images,)))
        tensors, seed = self._tensors, tf.constant(self.seed, tf.int64)
        scale = None if self.info is None else _pixel_scale(self.info)

        def one_epoch(epoch):
            # The order is drawn in-graph from (seed, epoch) and each batch gathered from
            # the in-memory split: no shuffle buffer to fill before the first batch and no
            # per-example work, which on 2 CPUs slowed the fastest model by a fifth.
            key = tf.stack([seed, epoch])
            if self.shuffle:
                order = tf.argsort(tf.random.stateless_uniform([n], key, dtype=tf.float32), stable=True)
            else:
                order = tf.range(n)
            order = tf.cast(order, tf.int64)

            def prepare(index, start):
                picked = order[start:start + size]
                binarize_seed = tf.stack([epoch_seed(seed, epoch), index]) if self.binarize == "dynamic" else None
                x = _prepare(tf.gather(tensors[0], picked), scale, self.value_range, binarize_seed)
                return (x, tf.gather(tensors[1], picked)) if self.with_labels else x

            starts = tf.data.Dataset.range(0, n, size).enumerate()
            return starts.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

        runs = tf.data.Dataset.range(int(initial_epoch), int(epochs))
        return runs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)
