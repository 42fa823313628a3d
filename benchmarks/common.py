"""What every benchmark prints about where it ran."""

import os


def device_description():
    """The device TensorFlow computes on: the first GPU's name, or the CPU and its core count."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return gpus[0].name
    # The cores this process may run on (fewer than the machine's under `taskset`).
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU ({usable} of {os.cpu_count()} cores)" if usable != os.cpu_count() else f"CPU ({usable} cores)"
