"""Checks of arguments: one checker per kind of argument, each raising a `ValueError` that names the
argument and the value received. Checks of data (images, labels, codes) are in `tfvae._input_checks`."""

import numbers

import numpy as np


def check_positive_number(value, name):
    """Validates a float argument that must be finite and > 0 (bools refused); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a number > 0; received {name}={value!r}.")
    return float(value)


def check_positive_int(value, name):
    """Validates an int argument that must be >= 1 (bools refused); returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive int; received {name}={value!r}.")
    return int(value)


def check_positive_ints(value, name):
    """Validates widths given as one int or a sequence of ints >= 1; returns them as a tuple of ints."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return tuple(check_positive_int(v, name) for v in values)


def check_seed(seed, name="seed"):
    """Validates a seed argument: an int (NumPy ints too) or None, bools refused; returns it as an int or None."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"`{name}` must be an int or None; received {name}={seed!r}.")
    return None if seed is None else int(seed)


def check_jit_compile(jit_compile):
    """Validates a `jit_compile` argument: True, False or "auto"; returns it."""
    if jit_compile != "auto" and not isinstance(jit_compile, bool):
        raise ValueError(f"`jit_compile` must be True, False or 'auto'; received jit_compile={jit_compile!r}.")
    return jit_compile


def check_int(value, name, minimum, maximum=None):
    """Validates an int argument that must be >= `minimum` (and <= `maximum` if given; bools refused); returns it
    as an int."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or (maximum is not None and value > maximum)):
        wanted = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"`{name}` must be an int {wanted}; received {name}={value!r}.")
    return int(value)


def check_real(value, name, low=-np.inf, high=np.inf, low_open=False, high_open=False):
    """Validates a finite float argument in the interval from `low` to `high` (open or closed at each end; bools
    refused); returns it as a float."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"`{name}` must be a number in {lo}{low}, {high}{hi}; received {name}={value!r}.")
    return float(value)


def check_rate(value, name):
    """Validates a rate in [0, 1) such as `dropout` (bools refused); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1); received {name}={value!r}.")
    return float(value)


# The value ranges tfvae's data and models know, and their bounds.
VALUE_RANGES = {"unit": (0.0, 1.0), "centered": (-0.5, 0.5)}


def check_value_range(value_range, unit_only=None):
    """Validates a model's `value_range` argument; `unit_only` names the setting that needs "unit" data, if any."""
    if value_range not in VALUE_RANGES:
        raise ValueError(f"`value_range` must be one of {tuple(VALUE_RANGES)}; received value_range={value_range!r}.")
    if unit_only is not None and value_range != "unit":
        raise ValueError(
            f"`value_range={value_range!r}` does not go with {unit_only}: it scores values in [0, 1] "
            "(value_range='unit')."
        )
    return value_range


def check_num_classes(num_classes):
    """Validates a `num_classes` argument; returns it as an int."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an int >= 2; received num_classes={num_classes!r}.")
    return int(num_classes)
