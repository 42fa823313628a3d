"""A classifier trained on the data set itself, as the feature extractor of sample-quality figures."""

import os

import keras
import numpy as np

from tfvae._checks import check_positive_int, check_seed
from tfvae.evaluation.feature_extractor import FEATURES_LAYER, FeatureExtractor

# Where extractors are kept between runs unless `cache_dir` or $TFVAE_CACHE_DIR says otherwise.
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "tfvae", "feature_extractors")
CLASSIFIER_FILTERS = (32, 64)
FEATURE_DIM = 128
DROPOUT = 0.3


def classifier_network(image_shape, num_classes, filters=CLASSIFIER_FILTERS, feature_dim=FEATURE_DIM,
                       dropout=DROPOUT):
    """A small convolutional classifier: images to `[features (batch, feature_dim), logits (batch, num_classes)]`.

    Two 3x3 ReLU convolutions per entry of `filters` (the second of stride 2),
    dropout, a ReLU dense layer named "features" (the feature vector), dropout
    and the class logits.
    """
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for f in filters:
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Dropout(dropout)(keras.layers.Flatten()(x))
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    logits = keras.layers.Dense(num_classes, name="logits")(keras.layers.Dropout(dropout)(features))
    return keras.Model(images, [features, logits], name="classifier")


def _tag(text):
    return "".join(c if c.isalnum() else "_" for c in str(text))


def cache_path(dataset, epochs, seed, train_split="train", binarize=None, cache_dir=None):
    """The file `train_feature_extractor` keeps an extractor of these settings in (a data set's name, or a
    folder's or file's path, with the image shape it is read at)."""
    from tfvae import data

    cache_dir = cache_dir or os.environ.get("TFVAE_CACHE_DIR") or DEFAULT_CACHE_DIR
    name = str(dataset)
    if not (isinstance(dataset, str) and dataset in data.DATASETS):
        name = _tag(os.path.abspath(os.path.expanduser(name)) if os.path.exists(os.path.expanduser(name)) else name)
        name += "-" + "x".join(map(str, data.dataset_info(dataset).image_shape))
    binary = f"-{binarize}" if binarize else ""
    return os.path.join(os.path.expanduser(cache_dir),
                        f"{name}{binary}-{_tag(train_split)}-classifier-e{epochs}-s{seed}.keras")


def train_feature_extractor(dataset, *, epochs=5, batch_size=128, seed=0, train_split="train", binarize=None,
                            cache_dir=None, retrain=False, verbose=0):
    """A `FeatureExtractor` trained on `dataset`'s labels, from the cache when one of these settings is there.

    Trains `classifier_network` with Adam on `train_split`, measures its
    accuracy on the test split, and saves it as a `.keras` file (written to a
    temporary name and renamed, so no half-written file is ever found) whose
    config holds the data set, the test accuracy and the SHA-256 of the
    weights. A later call with the same settings loads that file and checks
    the hash.

    Args:
        dataset: str. A labelled data set of `tfvae.data` ("mnist", "fashion_mnist", "cifar10").
        epochs: int >= 1.
        batch_size: int >= 1.
        seed: int. Seeds the initial weights, shuffling and dropout.
        train_split: str. The split it learns from (TFDS slices such as "train[:10000]" work).
        binarize: None or "dynamic": train on binarised images (for models of binary data).
        cache_dir: str or None: None is $TFVAE_CACHE_DIR, else ~/.cache/tfvae/feature_extractors.
        retrain: bool. Train again even if the file exists (and replace it).
        verbose: int. Keras' `fit` verbosity.

    Returns:
        A `FeatureExtractor` with `dataset`, `test_accuracy` and `weights_sha256` set.
    """
    from tfvae import data

    info = data.dataset_info(dataset)
    if not info.num_classes:
        raise ValueError(f"train_feature_extractor trains a classifier and needs labels; {str(dataset)!r} has none "
                         "(for binarized_mnist, train on 'mnist' with binarize='dynamic').")
    epochs, batch_size = check_positive_int(epochs, "epochs"), check_positive_int(batch_size, "batch_size")
    seed = check_seed(seed)
    path = cache_path(dataset, epochs, seed, train_split, binarize, cache_dir)
    if os.path.exists(path) and not retrain:
        return keras.saving.load_model(path).verify()
    keras.utils.set_random_seed(seed)
    network = classifier_network(info.image_shape, info.num_classes)
    trainer = keras.Model(network.input, network.output[1])
    trainer.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    train = data.load(dataset, train_split, batch_size, with_labels=True, shuffle=True, seed=seed, binarize=binarize)
    trainer.fit(train, epochs=epochs, verbose=verbose, shuffle=False)  # load() shuffles
    x, y = data.load_arrays(dataset, "test", with_labels=True, binarize=binarize, seed=seed)
    predicted = np.concatenate([np.argmax(trainer.predict_on_batch(x[i:i + 1000]), -1) for i in range(0, len(x), 1000)])
    accuracy = float(np.mean(predicted == y))
    extractor = FeatureExtractor(network, extractor_name="tfvae-classifier", dataset=str(dataset) + (
        f" ({binarize} binarisation)" if binarize else ""), test_accuracy=accuracy)
    extractor.weights_sha256 = extractor.weights_hash()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path[:-len('.keras')]}.{os.getpid()}.partial.keras"
    try:
        extractor.save(partial)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return extractor
