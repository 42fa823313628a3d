"""Checks of the data the models receive (images, labels, codes) and the unpacking of a step's data: clear
errors instead of silent garbage. Checks of arguments are in `tfvae._checks`.

Static facts (rank, shape, dtype) are checked in Python when a function is traced.
Values (NaN/Inf, range, label range) are checked eagerly where the tensor is
concrete (a `ValueError`); inside a compiled step they become
`tf.debugging.Assert` ops, which stop `fit`/`evaluate`/`predict` with
TensorFlow's `InvalidArgumentError` carrying the same sentence.
"""

import numpy as np
import tensorflow as tf


def _fmt_shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def check_image_batch(x, expected_shape, value_range, who, levels=None):
    """Checks a batch of images and returns it as a float tensor.

    Args:
        x: array-like `(batch, *expected_shape)`, floating point.
        expected_shape: tuple or None. Shape of one example; None dims are free.
        value_range: `(low, high)` or None. Allowed closed range of the values.
        who: str. Names the model and method in messages.
        levels: int or None. The values must be k / (levels - 1) (8-bit images
            scaled to [0, 1]: 256).
    """
    if not tf.is_tensor(x):
        x = np.asarray(x)
    dtype = tf.as_dtype(x.dtype)
    if not dtype.is_floating:
        raise ValueError(
            f"{who}: images must be floating point (scaled to the model's range, e.g. with "
            f"tfvae.data.load); received dtype {dtype.name}."
        )
    x = tf.convert_to_tensor(x)
    if expected_shape is not None:
        expected = tuple(expected_shape)
        got = tuple(x.shape)
        ok = len(got) == len(expected) + 1 and all(
            e is None or g is None or e == g for e, g in zip(expected, got[1:])
        )
        if not ok:
            raise ValueError(
                f"{who}: expected images of shape (batch, {', '.join(map(str, expected))}); "
                f"received shape {_fmt_shape(got)}."
            )
    shape_checks = []
    if expected_shape is not None and any(g is None for g in x.shape[1:]):
        # A retraced step may relax dims to None; the shape is then checked at run time.
        shape_ok = tf.reduce_all(tf.equal(tf.shape(x)[1:], [d if d is not None else -1 for d in expected]) | (
            tf.constant([d is None for d in expected])))
        shape_checks.append(tf.debugging.Assert(shape_ok, [
            f"{who}: expected images of shape (batch, {', '.join(map(str, expected))}); received shape",
            tf.shape(x)], summarize=16))
    eager = tf.executing_eagerly()
    finite = tf.reduce_all(tf.math.is_finite(x)) if eager or value_range is None else None
    in_range = tf.constant(True)
    if value_range is not None and eager:
        low, high = value_range
        in_range = tf.logical_and(tf.reduce_min(x) >= low, tf.reduce_max(x) <= high)
    on_levels, levels_message = tf.constant(True), None
    if levels is not None:
        scaled = tf.cast(x, tf.float32) * (levels - 1)
        on_levels = tf.reduce_max(tf.abs(scaled - tf.round(scaled))) <= 1e-3
        levels_message = (f"input values must be the {levels} levels k/{levels - 1} of [0, 1] (8-bit images "
                          "scaled by 1/255, as tfvae.data.load gives them)")
    if eager:
        if not bool(finite):
            bad = int(tf.reduce_sum(tf.cast(~tf.math.is_finite(x), tf.int32)))
            raise ValueError(f"{who}: input contains {bad} NaN or Inf values; expected finite values.")
        if not bool(in_range):
            raise ValueError(
                f"{who}: input values must lie in [{value_range[0]}, {value_range[1]}]; received "
                f"values in [{float(tf.reduce_min(x)):.4g}, {float(tf.reduce_max(x)):.4g}]."
            )
        if not bool(on_levels):
            raise ValueError(f"{who}: {levels_message}; received values off those levels.")
        return x
    # In a step: one pass over the batch decides whether it is good (NaN fails both
    # comparisons); the separate checks that name what is wrong run only when it is not.
    if value_range is not None:
        good = tf.reduce_all((x >= value_range[0]) & (x <= value_range[1]))
    else:
        good = finite

    def explain():
        checks = [tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(x)),
            [f"{who}: input contains NaN or Inf values; expected finite values."])]
        if value_range is not None:
            with tf.control_dependencies(checks):
                low, high = tf.reduce_min(x), tf.reduce_max(x)
                checks.append(tf.debugging.Assert(
                    (low >= value_range[0]) & (high <= value_range[1]),
                    [f"{who}: input values must lie in [{value_range[0]}, {value_range[1]}]; "
                     "received min/max", low, high]))
        with tf.control_dependencies(checks):
            return tf.constant(False)

    checks = shape_checks + [tf.cond(good, lambda: tf.constant(True), explain)]
    if levels is not None:
        checks.append(tf.debugging.Assert(on_levels, [f"{who}: {levels_message}; received values off them."]))
    with tf.control_dependencies(checks):
        return tf.identity(x)


def check_binary(x, who):
    """Refuses images whose values are not all 0 or 1 (a Bernoulli likelihood of grey levels is no probability)."""
    x = np.asarray(x)
    bad = (x != 0) & (x != 1)
    if bad.any():
        raise ValueError(
            f"{who}: a Bernoulli likelihood scores binary images (every pixel 0 or 1); received {int(bad.sum())} "
            f"pixels with other values, e.g. {float(x[bad][0]):.4g}. Binarise the data first "
            "(e.g. tfvae.data.load('mnist', ..., binarize='dynamic'), or a fixed threshold)."
        )


def check_levels(x, num_bins, who):
    """Refuses images that are not on the `num_bins` levels k / (num_bins - 1) of [0, 1]."""
    x = np.asarray(x, np.float64)
    low, high = float(x.min()), float(x.max())
    if low < 0.0 or high > 1.0:
        hint = (" Data in [-0.5, 0.5] (value_range='centered') must be shifted by +0.5 first."
                if low >= -0.5 and high <= 0.5 else "")
        raise ValueError(
            f"{who}: scores pixels on the {num_bins} levels k/{num_bins - 1} of [0, 1] (tfvae.data.load's "
            f"value_range='unit'); received values in [{low:.4g}, {high:.4g}].{hint}"
        )
    scaled = x * (num_bins - 1)
    off = np.abs(scaled - np.round(scaled))
    if off.max() > 1e-3:
        raise ValueError(
            f"{who}: scores pixels on the {num_bins} levels k/{num_bins - 1} of [0, 1]; received "
            f"{int((off > 1e-3).sum())} values off those levels, e.g. {float(x.flat[int(off.argmax())]):.6g}."
        )


def check_labels(labels, num_classes, batch_size, who):
    """Checks integer class labels of shape `(batch,)` or `(batch, 1)`; returns `(batch,)` int32."""
    if labels is None:
        raise ValueError(f"{who}: this model is conditional and needs labels; received labels=None.")
    if not tf.is_tensor(labels):
        labels = np.asarray(labels)
    dtype = tf.as_dtype(labels.dtype)
    if not dtype.is_integer:
        raise ValueError(f"{who}: labels must be integers in [0, {num_classes}); received dtype {dtype.name}.")
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 2 and labels.shape[1] == 1:
        labels = tf.squeeze(labels, axis=1)
    if labels.shape.rank != 1:
        raise ValueError(
            f"{who}: labels must have shape (batch,) or (batch, 1); received {_fmt_shape(labels.shape)}."
        )
    if batch_size is not None and labels.shape[0] is not None and labels.shape[0] != batch_size:
        raise ValueError(f"{who}: got {labels.shape[0]} labels for a batch of {batch_size} images.")
    return _check_index_range(labels, num_classes, "labels", who)


def split_labels(data):
    """`(inputs, labels)` from what Keras passes a step: `x`, `(x,)`, `(x, y)`, `(x, y, sample_weight)` or
    `((x, y), ...)`; labels are None when the data carry none."""
    if isinstance(data, (tuple, list)) and len(data) == 1:
        data = data[0]
    if not isinstance(data, (tuple, list)):
        return data, None
    x, labels = data[0], (data[1] if len(data) > 1 else None)
    if isinstance(x, (tuple, list)):
        x, labels = x
    return x, labels


def check_sample_labels(labels, n, num_classes, who):
    """The labels of `n` samples of a conditional model: an int (every sample), ints `(n,)`, or None for the
    classes in turn (0, 1, ..., 0, 1, ...); returns `(n,)` int32, checked."""
    if labels is None:
        labels = np.arange(n) % num_classes
    elif np.ndim(labels) == 0:
        labels = np.full((n,), labels)
    return check_labels(np.asarray(labels), num_classes, n, who)


def check_codes(codes, grid_shape, num_embeddings, who):
    """Checks integer code grids `(batch, *grid_shape)` in [0, num_embeddings); returns int32."""
    if not tf.is_tensor(codes):
        codes = np.asarray(codes)
    if not tf.as_dtype(codes.dtype).is_integer:
        raise ValueError(f"{who}: codes must be integers in [0, {num_embeddings}); received dtype {codes.dtype}.")
    codes = tf.convert_to_tensor(codes)
    expected = tuple(grid_shape)
    got = tuple(codes.shape)
    if len(got) != len(expected) + 1 or any(g is not None and g != e for g, e in zip(got[1:], expected)):
        raise ValueError(
            f"{who}: expected codes of shape (batch, {', '.join(map(str, expected))}); "
            f"received shape {_fmt_shape(got)}."
        )
    return _check_index_range(codes, num_embeddings, "codes", who)


def _check_index_range(values, high, what, who):
    """int32 `values`, checked to lie in [0, high): eagerly a ValueError, in a graph an assertion."""
    values = tf.cast(values, tf.int32)
    ok = tf.logical_and(tf.reduce_min(values) >= 0, tf.reduce_max(values) < high)
    if tf.executing_eagerly():
        if values.shape[0] and not bool(ok):
            raise ValueError(
                f"{who}: {what} must lie in [0, {high}); received values in "
                f"[{int(tf.reduce_min(values))}, {int(tf.reduce_max(values))}]."
            )
        return values
    check = tf.debugging.Assert(
        ok, [f"{who}: {what} must lie in [0, {high}); received min/max",
             tf.reduce_min(values), tf.reduce_max(values)])
    with tf.control_dependencies([check]):
        return tf.identity(values)


def check_replica_batch(batch, who):
    """`(batch, global_batch_size)`: the global batch size as float32, and under several replicas a check that this
    replica's batch is not empty.

    When a global batch holds fewer examples than there are replicas, some replica
    gets none; a convolution then fails deep inside TensorFlow and a mean is NaN.
    That batch is refused with a `ValueError` that names the fix instead.
    """
    local = tf.shape(tf.nest.flatten(batch)[0])[0]
    n = tf.cast(local, tf.float32)
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return batch, n
    n = ctx.all_reduce(tf.distribute.ReduceOp.SUM, n)
    check = tf.debugging.Assert(local > 0, [
        f"{who}: a global batch of", tf.cast(n, tf.int32),
        f"examples cannot be split over {ctx.num_replicas_in_sync} replicas: one replica would get none. "
        f"Drop the short last batch (dataset.batch(batch_size, drop_remainder=True)) or choose a batch_size "
        f"that leaves a remainder of 0 or at least {ctx.num_replicas_in_sync} examples."])
    with tf.control_dependencies([check]):
        return tf.nest.map_structure(lambda t: None if t is None else tf.identity(t), batch), n


def check_lookup_indices(indices, num_embeddings):
    """Integer code indices for a quantizer's `lookup`, as int32; eagerly, values outside [0, num_embeddings)
    raise `ValueError` (inside a graph they are the caller's to check)."""
    if not tf.is_tensor(indices):
        indices = np.asarray(indices)
    if not tf.as_dtype(indices.dtype).is_integer:
        raise ValueError(f"lookup: code indices must be integers; received dtype {indices.dtype}.")
    indices = tf.cast(indices, tf.int32)
    if tf.executing_eagerly() and tf.size(indices) > 0:
        low, high = int(tf.reduce_min(indices)), int(tf.reduce_max(indices))
        if low < 0 or high >= num_embeddings:
            raise ValueError(f"lookup: code indices must lie in [0, {num_embeddings}); received values in "
                             f"[{low}, {high}].")
    return indices
