"""A Keras model from images to feature vectors, with what every figure computed from it must name."""

import hashlib

import keras
import numpy as np
from keras import ops

# Layer names of the classifier networks tfvae builds: the feature vector, and the class logits after it.
FEATURES_LAYER = "features"


@keras.saving.register_keras_serializable(package="tfvae")
class FeatureExtractor(keras.Model):
    """Images in [0, 1] `(batch, H, W, C)` to feature vectors `(batch, d)`, and its provenance.

    Sample-quality figures (Fréchet distance, KID, precision and recall) are
    only comparable between runs that used the same extractor, so the object
    carries a `description`: its name, the data set it was trained on, its
    test accuracy and a hash of its weights. `verify()` recomputes the hash
    (e.g. after loading a cached file).

    Two kinds: a classifier trained by `tfvae.evaluation.train_feature_extractor`
    on the data set itself (the substitute for Inception on machines without
    internet, as TF-GAN does for MNIST; it also classifies conditional
    samples), and `FeatureExtractor.inception_v3()`, the standard FID network
    where its ImageNet weights are available.

    Args:
        network: keras.Model. Images to `[features, logits]` (a classifier) or
            to features only.
        extractor_name: str. What figures call it (e.g. "tfvae-classifier").
        dataset: str or None. The data set it was trained on.
        test_accuracy: float or None. Its accuracy on that data set's test split.
        weights_sha256: str or None. Hash of the weights (`weights_hash()`),
            set when it was trained; None: not recorded.
        **kwargs: base `keras.Model` arguments.

    Call arguments:
        images: float images in [0, 1] of the network's input shape.

    Returns:
        float32 features `(batch, d)`.
    """

    def __init__(self, network, extractor_name="feature-extractor", dataset=None, test_accuracy=None,
                 weights_sha256=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(network, keras.Model):
            raise ValueError(f"`network` must be a keras.Model; received network={network!r}.")
        self.network = network
        self.extractor_name = str(extractor_name)
        self.dataset = dataset
        self.test_accuracy = None if test_accuracy is None else float(test_accuracy)
        self.weights_sha256 = weights_sha256
        self.built = True  # the network is built; the extractor adds no weights of its own

    @property
    def can_classify(self):
        """Whether the network also gives class logits (then `classify` works)."""
        return isinstance(self.network.output, (list, tuple))

    @property
    def image_shape(self):
        return tuple(self.network.input.shape[1:])

    def call(self, images):
        out = self.network(images, training=False)
        return ops.cast(out[0] if self.can_classify else out, "float32")

    def classify(self, images):
        """Most likely class of each image `(batch,)`, int32."""
        if not self.can_classify:
            raise ValueError(f"{self.extractor_name} has no class output; it cannot classify.")
        return ops.cast(ops.argmax(self.network(images, training=False)[1], axis=-1), "int32")

    def weights_hash(self):
        """SHA-256 of the weights' values (float32, in order), as hex."""
        h = hashlib.sha256()
        for w in self.network.weights:
            h.update(np.ascontiguousarray(ops.convert_to_numpy(w), np.float32).tobytes())
        return h.hexdigest()

    def verify(self):
        """Raises `ValueError` if the weights are not those the extractor was trained with (by their hash)."""
        if self.weights_sha256 is not None and self.weights_hash() != self.weights_sha256:
            raise ValueError(f"{self.extractor_name}: the weights' hash {self.weights_hash()[:12]} differs from the "
                             f"recorded {self.weights_sha256[:12]}: the file was changed or damaged; train it again.")
        return self

    @property
    def description(self):
        """One line for reports: name, data set, test accuracy, short weights hash."""
        parts = [self.extractor_name]
        if self.dataset:
            parts.append(f"trained on {self.dataset}")
        if self.test_accuracy is not None:
            parts.append(f"test accuracy {self.test_accuracy:.4f}")
        parts.append(f"weights sha256 {(self.weights_sha256 or self.weights_hash())[:12]}")
        return ", ".join(parts)

    @classmethod
    def inception_v3(cls, weights="imagenet", input_shape=(299, 299, 3)):
        """InceptionV3's 2048 pool features at 299x299 (the standard FID network), for images in [0, 1].

        Grey images are repeated to three channels and every image is resized
        (bilinear) to 299x299 and scaled to [-1, 1], Inception's input. The
        ImageNet weights are downloaded by Keras on first use: machines
        without internet need `weights=` a local file of them.

        Args:
            weights: "imagenet", a path to the weights file, or None (random:
                for tests of shapes only; figures from it mean nothing).
            input_shape: `(H, W, C)` of the images it will see.
        """
        images = keras.Input(input_shape)
        x = images
        if input_shape[-1] == 1:
            x = keras.layers.Concatenate()([x, x, x])
        x = keras.layers.Resizing(299, 299, interpolation="bilinear")(x)
        x = keras.layers.Rescaling(2.0, offset=-1.0)(x)
        try:
            base = keras.applications.InceptionV3(include_top=False, weights=weights, pooling="avg",
                                                  input_shape=(299, 299, 3))
        except Exception as e:  # the download's own error types vary (URLError, OSError, ...)
            raise ValueError(f"InceptionV3 weights={weights!r} could not be loaded ({type(e).__name__}: {e}). "
                             "Without internet, pass weights= a local copy, or use "
                             "tfvae.evaluation.train_feature_extractor.") from e
        network = keras.Model(images, base(x), name="inception_v3_pool")
        extractor = cls(network, extractor_name="inception_v3" + ("" if weights == "imagenet" else f"({weights})"),
                        dataset="imagenet" if weights == "imagenet" else None)
        extractor.weights_sha256 = extractor.weights_hash() if weights is not None else None
        return extractor

    def get_config(self):
        config = super().get_config()
        config.update(network=keras.saving.serialize_keras_object(self.network), extractor_name=self.extractor_name,
                      dataset=self.dataset, test_accuracy=self.test_accuracy, weights_sha256=self.weights_sha256)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)
