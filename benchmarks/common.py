"""What every benchmark prints about where it ran."""

import os


def device_description():
    """The device TensorFlow computes on: the first GPU's name, or the CPU and its core count."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores)"
