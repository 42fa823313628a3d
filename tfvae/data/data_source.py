"""Where images come from: a named data set, any TFDS data set, a folder of image files, or NumPy arrays."""

import os
import re

import numpy as np
import tensorflow as tf

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
RESIZE_MODES = ("crop", "pad")
# Folders and arrays without splits of their own: every TEST_EVERY-th example (in sorted file order, or
# array order) is the "test" split, the others "train"; "all" is every example.
TEST_EVERY = 10
OWN_SPLITS = ("train", "test", "all")
# Keys of a .npz file tried in turn when `image_key` / `label_key` are not given.
IMAGE_KEYS = ("images", "image", "x")
LABEL_KEYS = ("labels", "label", "y")


class DataSource:
    """A source of images for `tfvae.data.load`, `load_arrays`, `EpochData` and `tfvae train --dataset`.

    What `name` may be:

    - a data set tfvae knows by name (`tfvae.data.DATASETS`: "mnist",
      "cifar10", "frey_face", ...);
    - any TFDS image data set by name ("svhn_cropped", "celeb_a", ...): the
      image is the first `tfds.features.Image` of its features and the label
      the first `ClassLabel` (or `image_key=` / `label_key=`), its splits TFDS'
      own (slices such as "train[:10%]" too);
    - a folder of image files (PNG, JPEG, BMP, GIF): with class sub-folders,
      each one's name is a class (sorted, as
      `keras.utils.image_dataset_from_directory`, which lists them; images
      directly in the folder are then ignored), else the images carry no
      labels. A folder with `train/` and `test/` sub-folders has those splits;
      otherwise every 10th file in sorted order is "test", the rest "train",
      and "all" is every file;
    - a `.npy` or `.npz` file, or an array `(n, H, W[, C])` or a pair
      `(images, labels)`: uint8 images are 8-bit data, float images need
      `float_range=(low, high)`, the range they are stated in. A `.npz` takes
      its images from `image_key` (default: "images", "image" or "x", or its one
      array of images) and labels from `label_key` ("labels", "label", "y"),
      or its splits from keys "x_train"/"x_test" ("y_train"/"y_test"). Arrays
      split as folders do.

    `image_size=(h, w)` resizes every image (bilinear), after a centre crop to
    the target's aspect ratio (`resize="crop"`, the default) or padding with
    zeros to it (`resize="pad"`); 8-bit images are rounded back to their 256
    levels after resizing, so discrete likelihoods and bits/dim stay valid.
    `channels=1` or `3` converts grey and colour images (RGBA drops alpha).
    Without `image_size`, all images must have one size.

    Bad sources are refused before anything is read into a model: a path that
    does not exist, a folder without images, unreadable or truncated files
    (refused, naming them; a data set with broken files is not silently made
    smaller), mixed channel counts without `channels=`, images of several
    sizes without `image_size=`, a TFDS data set without an image feature, a
    `.npz` without an image array.

    Args:
        name: str, array or `(images, labels)`: see above.
        image_size: int, `(h, w)` or None.
        channels: 1, 3 or None (as stored).
        resize: "crop" or "pad".
        image_key: str or None. The image feature or array name.
        label_key: str or None. The label feature or array name.
        float_range: `(low, high)` or None: the range of float images.
        data_dir: for named and TFDS data sets, as `tfvae.data.load`'s.
        download: for named and TFDS data sets, as `tfvae.data.load`'s.
    """

    def __init__(self, name, *, image_size=None, channels=None, resize="crop", image_key=None, label_key=None,
                 float_range=None, data_dir=None, download=None):
        self.name = name
        self.image_size = _check_image_size(image_size)
        if channels not in (None, 1, 3):
            raise ValueError(f"`channels` must be 1, 3 or None; received channels={channels!r}.")
        if resize not in RESIZE_MODES:
            raise ValueError(f"`resize` must be one of {RESIZE_MODES}; received resize={resize!r}.")
        self.channels, self.resize = channels, resize
        self.image_key, self.label_key = image_key, label_key
        self.float_range = None if float_range is None else _check_float_range(float_range)
        self.data_dir, self.download = data_dir, download
        self.kind = self._kind()
        self._info = None
        self._arrays = None
        self._folder = None

    def __str__(self):
        return self.name if isinstance(self.name, str) else "arrays"

    def __repr__(self):
        return f"DataSource({str(self)!r}, image_size={self.image_size}, channels={self.channels})"

    # ------------------------------------------------------------------ what it is
    def _kind(self):
        from tfvae import data

        name = self.name
        if isinstance(name, (np.ndarray, tuple, list)):
            return "arrays"
        if not isinstance(name, str):
            raise ValueError(f"A data source is a data set name, a path or arrays; received {type(name).__name__}.")
        if name in data.DATASETS:
            if data.DATASETS[name].binary and (self.image_size or self.channels):
                raise ValueError(f"{name!r} holds binary pixels, which resizing or colour conversion would turn "
                                 "into grey levels; received image_size or channels.")
            return "named"
        path = os.path.expanduser(name)
        if os.path.isdir(path):
            return "folder"
        if os.path.isfile(path):
            if path.lower().endswith((".npy", ".npz")):
                return "numpy"
            raise ValueError(f"{name} is a file but not a .npy or .npz array file; a data source is a data set "
                             "name, a folder of images, or a .npy/.npz file.")
        if os.sep in name or name.startswith((".", "~")) or name.lower().endswith((".npy", ".npz")):
            raise ValueError(f"{name} does not exist: no such folder or file.")
        return "tfds"

    @property
    def info(self):
        """The `DatasetInfo` of the source (image shape after resizing, classes, splits)."""
        if self._info is None:
            self._info = getattr(self, f"_info_{self.kind}")()
        return self._info

    def _shape(self, stored, what):
        """The image shape after resizing and channel conversion; `stored` may have None for variable sizes."""
        h, w, c = stored
        if self.image_size is not None:
            h, w = self.image_size
        if self.channels is not None:
            c = self.channels
        if h is None or w is None:
            raise ValueError(f"{what} holds images of several sizes; give image_size=(height, width) to resize "
                             "them to one.")
        return (int(h), int(w), int(c))

    def _info_named(self):
        from tfvae import data

        known = data.DATASETS[self.name]
        if self.image_size is None and self.channels is None:
            return known
        return data.DatasetInfo(known.name, self._shape(known.image_shape, known.name), known.num_classes,
                                known.splits, known.binary, known.source)

    def _tfds_builder(self):
        import tensorflow_datasets as tfds

        from tfvae import data

        try:
            return tfds.builder(self.name, data_dir=data._tfds_data_dir(self.data_dir))
        except tfds.core.registered.DatasetNotFoundError:
            raise ValueError(
                f"Unknown data set {self.name!r}; known data sets: {', '.join(sorted(data.DATASETS))}, any TFDS "
                "image data set by name, a folder of images, or a .npy/.npz file.") from None

    def _tfds_keys(self, features):
        import tensorflow_datasets as tfds

        images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
        labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
        image_key = self.image_key or (images[0] if images else None)
        if image_key is None or image_key not in features:
            raise ValueError(f"TFDS data set {self.name!r} has no image feature{f' {image_key!r}' if image_key else ''}"
                             f"; its features are {sorted(features)}. Name one with image_key=.")
        label_key = self.label_key or (labels[0] if labels else None)
        if label_key is not None and label_key not in features:
            raise ValueError(f"TFDS data set {self.name!r} has no feature {label_key!r}; its features are "
                             f"{sorted(features)}.")
        return image_key, label_key

    def _info_tfds(self):
        from tfvae import data

        builder = self._tfds_builder()
        features = builder.info.features
        image_key, label_key = self._tfds_keys(features)
        num_classes = int(features[label_key].num_classes) if label_key is not None else 0
        stored = tuple(features[image_key].shape)
        return data.DatasetInfo(self.name, self._shape(stored, f"TFDS data set {self.name!r}"), num_classes,
                                tuple(builder.info.splits) or None, False, "tfds")  # None: not prepared yet

    def _info_folder(self):
        from tfvae import data

        folder = self._listing()
        return data.DatasetInfo(self.name, self._shape(folder["shape"], self.name), len(folder["classes"]),
                                folder["splits"], False, "folder")

    def _info_numpy(self):
        return self._info_arrays()

    def _info_arrays(self):
        from tfvae import data

        arrays = self._load_arrays()
        images = arrays["all"][0] if "all" in arrays else arrays["train"][0]
        labels = [a[1] for a in arrays.values() if a[1] is not None]
        num_classes = int(max(int(np.max(y)) for y in labels) + 1) if labels else 0
        splits = tuple(arrays) if "all" not in arrays else OWN_SPLITS
        return data.DatasetInfo(str(self), self._shape(images.shape[1:], str(self)), num_classes, splits, False,
                                "arrays", pixel_scale=255.0 if images.dtype == np.uint8 else None)

    # ------------------------------------------------------------------ reading
    def examples(self, split, with_labels, shuffle_files=False, seed=None):
        """Unbatched examples of `split`: images (uint8, or float32 in [0, 1] for float sources) resized and
        converted as asked, or `(image, int32 label)` pairs."""
        from tfvae import data

        info = self.info
        if self.kind == "named" and info.source == "frey_face":
            frames = data._frey_face_split(data._frey_face_frames(self.data_dir, self.download), split)
            ds = tf.data.Dataset.from_tensor_slices(frames)
        elif self.kind in ("named", "tfds"):
            image_key, label_key = ("image", "label") if self.kind == "named" else self._tfds_keys(
                self._tfds_builder().info.features)
            ds = data._tfds_dataset(info, split, self.data_dir, self.download, shuffle_files, seed)
            ds = ds.map(lambda e: (e[image_key], tf.cast(e[label_key], tf.int32)) if with_labels else e[image_key],
                        num_parallel_calls=tf.data.AUTOTUNE)
        elif self.kind == "folder":
            ds = self._folder_examples(split, with_labels)
        else:
            images, labels = self._split_arrays(split)
            if with_labels and labels is None:
                raise ValueError(f"{self} has no labels; received with_labels=True.")
            ds = tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images)
        if self.image_size is None and self.channels is None:
            return ds
        return ds.map(lambda *e: (self._transform(e[0]), *e[1:]) if with_labels else self._transform(e[0]),
                      num_parallel_calls=tf.data.AUTOTUNE)

    def _transform(self, image):
        """One image converted to `channels` and resized to `image_size`, 8-bit images back on their levels."""
        eight_bit = image.dtype == tf.uint8
        x = tf.cast(image, tf.float32)
        if self.channels is not None and image.shape[-1] != self.channels:
            if self.channels == 3:
                x = tf.image.grayscale_to_rgb(x[..., :1])
            else:
                x = tf.image.rgb_to_grayscale(x[..., :3])
        if self.image_size is not None:
            from keras import ops

            x = ops.image.resize(x, self.image_size, crop_to_aspect_ratio=self.resize == "crop",
                                 pad_to_aspect_ratio=self.resize == "pad")
        if eight_bit:
            return tf.cast(tf.clip_by_value(tf.round(x), 0.0, 255.0), tf.uint8)
        return x

    # ------------------------------------------------------------------ folders
    def _listing(self):
        """Files, labels, class names, splits and stored image shape of a folder, every file checked."""
        if self._folder is not None:
            return self._folder
        root = os.path.expanduser(self.name)
        split_dirs = [s for s in ("train", "test") if os.path.isdir(os.path.join(root, s))]
        parts = {s: os.path.join(root, s) for s in split_dirs} if split_dirs else {"all": root}
        files, classes = {}, None
        for part, path in parts.items():
            paths, labels, names = _list_images(path)
            if classes is None:
                classes = names
            elif names != classes:
                raise ValueError(f"{self.name}: the splits have different classes ({classes} and {names}).")
            files[part] = (paths, labels)
        total = sum(len(p) for p, _ in files.values())
        if total == 0:
            raise ValueError(f"{self.name} holds no images ({', '.join(IMAGE_EXTENSIONS)}), directly or in "
                             "class sub-folders.")
        shapes = _checked_shapes(self.name, [p for paths, _ in files.values() for p in paths])
        channels = sorted({s[2] for s in shapes})
        if len(channels) > 1 and self.channels is None:
            raise ValueError(f"{self.name} mixes images with {' and '.join(map(str, channels))} channels; give "
                             "channels=1 or 3 to convert them to one.")
        sizes = {s[:2] for s in shapes}
        shape = (*(sizes.pop() if len(sizes) == 1 else (None, None)), channels[-1])
        self._folder = {"files": files, "classes": classes, "shape": shape,
                        "splits": tuple(files) if split_dirs else OWN_SPLITS}
        return self._folder

    def _folder_examples(self, split, with_labels):
        folder = self._listing()
        if with_labels and not folder["classes"]:
            raise ValueError(f"{self.name} has no class sub-folders, so no labels; received with_labels=True.")
        paths, labels = _split_of(folder["files"], split, self.name)
        channels = self.info.image_shape[-1] if self.channels is None else self.channels

        def decode(path):
            # Decoded as stored (BMP and GIF cannot be decoded to one channel), then converted.
            image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
            stored = tf.shape(image)[-1]
            if channels == 3:
                image = tf.cond(stored == 1, lambda: tf.image.grayscale_to_rgb(image[..., :1]),
                                lambda: image[..., :3])
            elif channels == 1:
                image = tf.cond(stored == 1, lambda: image[..., :1], lambda: tf.image.rgb_to_grayscale(image[..., :3]))
            else:
                image = image[..., :channels]
            image.set_shape([None, None, channels])
            return image

        images = tf.data.Dataset.from_tensor_slices(np.asarray(paths)).map(decode, num_parallel_calls=tf.data.AUTOTUNE)
        if with_labels:
            return tf.data.Dataset.zip((images, tf.data.Dataset.from_tensor_slices(np.asarray(labels, np.int32))))
        return images

    # ------------------------------------------------------------------ arrays
    def _load_arrays(self):
        """`{split: (images, labels or None)}` of an array source, images as stored (uint8) or scaled floats."""
        if self._arrays is not None:
            return self._arrays
        if self.kind == "arrays":
            pair = self.name if isinstance(self.name, (tuple, list)) else (self.name, None)
            if len(pair) != 2:
                raise ValueError(f"Arrays are images or (images, labels); received {len(pair)} arrays.")
            arrays = {"all": (np.asarray(pair[0]), None if pair[1] is None else np.asarray(pair[1]))}
        else:
            arrays = self._read_numpy_file(os.path.expanduser(self.name))
        self._arrays = {split: self._checked_arrays(images, labels, split) for split, (images, labels)
                        in arrays.items()}
        return self._arrays

    def _read_numpy_file(self, path):
        try:
            loaded = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.name} is not a readable NumPy file: {e}") from None
        if isinstance(loaded, np.ndarray):
            return {"all": (loaded, None)}
        with loaded:
            keys = list(loaded.keys())
            if self.image_key is None and "x_train" in keys:
                return {s: (loaded[f"x_{s}"], loaded[f"y_{s}"] if f"y_{s}" in keys else None)
                        for s in ("train", "test") if f"x_{s}" in keys}
            image_key = self.image_key or next((k for k in IMAGE_KEYS if k in keys), None)
            if image_key is None:
                candidates = [k for k in keys if loaded[k].ndim in (3, 4)]
                image_key = candidates[0] if len(candidates) == 1 else None
            if image_key is None or image_key not in keys:
                raise ValueError(f"{self.name} has no image array{f' {image_key!r}' if image_key else ''} (arrays: "
                                 f"{', '.join(f'{k} {loaded[k].shape}' for k in keys) or 'none'}); name it with "
                                 "image_key=.")
            label_key = self.label_key or next((k for k in LABEL_KEYS if k in keys), None)
            if label_key is not None and label_key not in keys:
                raise ValueError(f"{self.name} has no array {label_key!r}; it has {', '.join(keys)}.")
            return {"all": (loaded[image_key], None if label_key is None else loaded[label_key])}

    def _checked_arrays(self, images, labels, split):
        what = f"{self}" + ("" if split == "all" else f" ({split})")
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or len(images) == 0:
            raise ValueError(f"{what}: images must be (n, H, W) or (n, H, W, C) with C in 1, 3, 4 and n >= 1; "
                             f"received shape {images.shape}.")
        if images.dtype == np.uint8:
            if self.float_range is not None:
                raise ValueError(f"{what}: float_range applies to float images; these are uint8 (8-bit).")
        elif np.issubdtype(images.dtype, np.floating):
            if self.float_range is None:
                raise ValueError(f"{what}: float images need their range stated, e.g. float_range=(0.0, 1.0) or "
                                 "(0.0, 255.0); uint8 images are taken as 8-bit.")
            low, high = self.float_range
            if not np.isfinite(images).all() or images.min() < low or images.max() > high:
                raise ValueError(f"{what}: values must be finite and lie in float_range=({low}, {high}); received "
                                 f"values in [{np.nanmin(images):.4g}, {np.nanmax(images):.4g}].")
            images = ((images.astype(np.float32) - low) / (high - low)).astype(np.float32)
        else:
            raise ValueError(f"{what}: images must be uint8 or float; received dtype {images.dtype}.")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
                raise ValueError(f"{what}: labels must be {len(images)} ints >= 0; received dtype {labels.dtype}, "
                                 f"shape {labels.shape}.")
            labels = labels.astype(np.int32)
        return images, labels

    def _split_arrays(self, split):
        return _split_of(self._load_arrays(), split, str(self))


def _parse_split(split, names, what, hint=""):
    """`(name, N or None)` of a split "name" or "name[:N]" among `names`; ValueError naming them otherwise."""
    match = re.fullmatch(r"(\w+)(?:\[:(\d+)\])?", split) if isinstance(split, str) else None
    if match is None or match.group(1) not in names:
        raise ValueError(f"{what} has splits {tuple(names)}{hint}; received split={split!r}.")
    return match.group(1), None if match.group(2) is None else int(match.group(2))


def _split_of(parts, split, what):
    """`(items, labels)` of `split` from `{split name: (items, labels)}`: a source's own splits, or, where it has
    only "all", the train/test split of `_own_split`."""
    if "all" in parts:
        return _own_split(*parts["all"], split, what)
    base, limit = _parse_split(split, tuple(parts), what)
    items, labels = parts[base]
    return items[:limit], None if labels is None else labels[:limit]


def _own_split(items, labels, split, what):
    """The "train" / "test" / "all" split of a source without splits of its own (every TEST_EVERY-th is test),
    or its first N examples ("train[:N]")."""
    base, limit = _parse_split(split, OWN_SPLITS, what, f" (every {TEST_EVERY}th example is 'test'; 'train[:N]' "
                                                         "for the first N)")
    n = len(items)
    keep = np.ones(n, bool) if base == "all" else (np.arange(n) % TEST_EVERY == TEST_EVERY - 1) == (base == "test")
    if not keep.any():
        raise ValueError(f"{what} has {n} examples: too few for a {base!r} split of every {TEST_EVERY}th.")
    pick = np.flatnonzero(keep)[:limit]
    items = [items[i] for i in pick] if isinstance(items, list) else items[pick]
    return items, None if labels is None else np.asarray(labels)[pick]


def _list_images(path):
    """`(files, labels, class names)` of a folder, listed by Keras (labels from class sub-folders)."""
    import keras

    has_classes = any(os.path.isdir(os.path.join(path, d)) for d in os.listdir(path))
    try:
        listed = keras.utils.image_dataset_from_directory(path, labels="inferred" if has_classes else None,
                                                          batch_size=None, shuffle=False, verbose=False)
    except ValueError as e:
        if "No images found" in str(e):
            return [], [], []
        raise
    files = list(listed.file_paths)
    classes = list(listed.class_names or [])
    labels = [classes.index(os.path.relpath(f, path).split(os.sep)[0]) for f in files] if classes else None
    return files, labels, classes


def _checked_shapes(name, files):
    """Decodes every file once; refuses unreadable or truncated ones, naming them. Returns `(h, w, c)` each."""
    def probe(i, path):
        image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        return i, tf.shape(image)

    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(files)), np.asarray(files)))
    ds = ds.map(probe, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    shapes = {int(i): tuple(int(v) for v in s) for i, s in ds.as_numpy_iterator()}
    bad = [files[i] for i in range(len(files)) if i not in shapes]
    if bad:
        raise ValueError(f"{name}: {len(bad)} of {len(files)} image files cannot be read (unreadable or "
                         f"truncated), e.g. {', '.join(bad[:3])}. Remove or repair them.")
    return [shapes[i] for i in range(len(files))]


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        h, w = image_size
    except (TypeError, ValueError):
        h = w = None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in (h, w)):
        raise ValueError(f"`image_size` must be an int or (height, width) of ints >= 1; received "
                         f"image_size={image_size!r}.")
    return (int(h), int(w))


def _check_float_range(float_range):
    try:
        low, high = (float(v) for v in float_range)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"`float_range` must be (low, high) with low < high; received float_range={float_range!r}.")
    return (low, high)
