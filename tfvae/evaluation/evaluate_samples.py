"""Sample-quality figures of any generative model of tfvae, computed one way for all."""

import keras
import numpy as np
import tensorflow as tf

from tfvae._checks import check_positive_int, check_seed
from tfvae.evaluation.feature_extractor import FeatureExtractor
from tfvae.evaluation.frechet_distance import frechet_distance
from tfvae.evaluation.kernel_distance import kernel_distance
from tfvae.evaluation.precision_recall import density_coverage, precision_recall

BATCH_SIZE = 500
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def compare_features(real_features, generated_features, *, seed=0):
    """Every figure of two feature sets `(n, d)` and `(m, d)` of one extractor.

    Returns:
        dict: `frechet_distance`, `kernel_distance` and `kernel_distance_std`
        (KID over `KID_SUBSETS` subsets of at most `KID_SUBSET_SIZE`),
        `precision`, `recall` (k = 3), `density`, `coverage` (k = 5).
    """
    kid, kid_std = kernel_distance(real_features, generated_features, KID_SUBSETS, KID_SUBSET_SIZE, seed)
    precision, recall = precision_recall(real_features, generated_features)
    density, coverage = density_coverage(real_features, generated_features)
    return {"frechet_distance": frechet_distance(real_features, generated_features), "kernel_distance": kid,
            "kernel_distance_std": kid_std, "precision": precision, "recall": recall, "density": density,
            "coverage": coverage}


def _bounds(value_range):
    from tfvae._checks import VALUE_RANGES, check_value_range

    return VALUE_RANGES[check_value_range(value_range)]


def _features(extractor, images, low):
    """Features of a batch of images in [low, low + 1], as float32 NumPy."""
    images = np.asarray(images, np.float32)
    if tuple(images.shape[1:]) != extractor.image_shape:
        raise ValueError(f"The extractor ({extractor.description}) takes images of shape {extractor.image_shape}; "
                         f"received images of shape {tuple(images.shape[1:])}.")
    return keras.ops.convert_to_numpy(extractor(images - low))


def reference_features(extractor, data, *, n=None, value_range="unit", batch_size=BATCH_SIZE):
    """Features `(n, d)` of the images in `data` (an array, or a dataset of images or (images, labels)).

    Images go through the extractor a batch at a time; only the features are kept.
    """
    low = _bounds(value_range)[0]
    if isinstance(data, tf.data.Dataset):
        batches = data.as_numpy_iterator()
    else:
        data = data if n is None else data[:n]
        batches = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
    out, count = [], 0
    for batch in batches:
        x = batch[0] if isinstance(batch, tuple) else batch
        if n is not None:
            x = x[:n - count]
        out.append(_features(extractor, x, low))
        count += len(x)
        if n is not None and count >= n:
            break
    if n is not None and count < n:
        raise ValueError(f"The reference data hold {count} images; {n} were asked for.")
    return np.concatenate(out)


def _sampler(source, value_range):
    """`(draw(n, seed, labels) -> images, num_classes, value_range)` of a model, a pair, a signature or a callable."""
    from tfvae import generative

    if isinstance(source, (tuple, list)) and len(source) == 2:
        vqvae, prior = source
        return ((lambda n, seed, labels: generative.sample_images(vqvae, prior, n, seed=seed, labels=labels)[0]),
                prior.num_classes, vqvae.value_range)
    if isinstance(source, keras.Model) and callable(getattr(source, "sample", None)):
        if source.value_bounds is None:
            raise ValueError(f"{type(source).__name__} models codes, not images: evaluate the pair (vqvae, prior).")
        return ((lambda n, seed, labels: source.sample(n, seed=seed, labels=labels)),
                getattr(source, "num_classes", None), source.value_range)
    signature = getattr(source, "structured_input_signature", None)
    if signature is not None:  # an exported `sample` signature: one int64 seed (and an int32 label) per image
        inputs = signature[1]
        if "seed" not in inputs:
            raise ValueError(f"A signature to sample from takes `seed`; this one takes {sorted(inputs)}.")

        def draw(n, seed, labels):
            feed = {"seed": tf.constant(np.arange(n) + 1_000_003 * (seed or 0), tf.int64)}
            if "label" in inputs:
                feed["label"] = tf.constant(labels, tf.int32)
            return source(**feed)["images"].numpy()

        return draw, (None if "label" not in inputs else -1), value_range
    if callable(source):
        return (lambda n, seed, labels: source(n, seed)), None, value_range
    raise ValueError(f"evaluate_samples samples from a model with `sample`, a (vqvae, prior) pair, an exported "
                     f"`sample` signature or a callable (n, seed) -> images; received {source!r}.")


def evaluate_samples(source, reference, extractor, *, n=10_000, num_classes=None, value_range="unit", seed=0,
                     batch_size=BATCH_SIZE):
    """Sample-quality figures of a generative model against reference images, through one feature extractor.

    Draws `n` images from `source` a batch at a time, keeps only their
    features, and compares them with the features of `n` reference images:
    Fréchet distance, KID, precision/recall and density/coverage
    (`compare_features`). For a conditional model the labels go through the
    classes in turn and, if the extractor classifies, `class_accuracy` is the
    fraction of samples it puts in the class asked for.

    Args:
        source: `VAE` (conditional too), `AdversarialAutoencoder`, a pair
            `(vqvae, prior)`, an exported `sample` signature
            (`tf.saved_model.load(path).signatures["sample"]`), or a callable
            `(n, seed) -> images`.
        reference: array of images `(N, H, W, C)` or a `tf.data.Dataset` of
            images or (images, labels), N >= n: e.g. the test split.
        extractor: `FeatureExtractor`.
        n: int. Number of generated (and reference) images; 10,000 is the usual
            figure, and FD depends on it (it is biased upward for small n).
        num_classes: int or None. Classes of an exported conditional signature
            (models know theirs).
        value_range: "unit" or "centered": the range of the reference images,
            and of the samples of a signature or callable (models know theirs).
        seed: int. Seeds the samples (batch i uses seed + i) and KID's subsets.
        batch_size: int. Images per batch.

    Returns:
        dict: the figures of `compare_features`, `class_accuracy` (conditional
        models with a classifying extractor), `num_generated`, `num_reference`
        and `extractor` (its description).
    """
    if not isinstance(extractor, FeatureExtractor):
        raise ValueError(f"`extractor` must be a tfvae.evaluation.FeatureExtractor; received {extractor!r}.")
    n, batch_size, seed = check_positive_int(n, "n"), check_positive_int(batch_size, "batch_size"), check_seed(seed)
    draw, model_classes, sample_range = _sampler(source, value_range)
    classes = num_classes if model_classes == -1 else model_classes
    if model_classes == -1 and num_classes is None:
        raise ValueError("The signature takes labels: give num_classes=.")
    low = _bounds(sample_range)[0]
    features, correct = [], 0
    for i, start in enumerate(range(0, n, batch_size)):
        b = min(batch_size, n - start)
        labels = None if classes is None else ((start + np.arange(b)) % classes).astype(np.int32)
        images = np.asarray(draw(b, None if seed is None else seed + i, labels))
        if not np.isfinite(images).all():
            raise ValueError(f"The model's samples hold NaN or Inf (batch {i}).")
        features.append(_features(extractor, images, low))
        if labels is not None and extractor.can_classify:
            correct += int(np.sum(keras.ops.convert_to_numpy(extractor.classify(images - low)) == labels))
    generated = np.concatenate(features)
    real = reference_features(extractor, reference, n=n, value_range=value_range, batch_size=batch_size)
    results = compare_features(real, generated, seed=seed)
    if classes is not None and extractor.can_classify:
        results["class_accuracy"] = correct / n
    results.update(num_generated=n, num_reference=len(real), extractor=extractor.description)
    return results


def evaluate_reconstructions(model, data, extractor, *, labels=None, n=10_000, batch_size=BATCH_SIZE, seed=0):
    """The figures of `compare_features` for a model's reconstructions against the images they reconstruct.

    Args:
        model: any tfvae autoencoder (`VAE`, `VQVAE`, `Autoencoder`, ...) with `reconstruct`.
        data: images `(N, ...)` in the model's value range.
        extractor: `FeatureExtractor`.
        labels: ints `(N,)` or None: the images' labels, for a conditional VAE's `reconstruct`.
        n: int. How many images (at most N).
        batch_size: int.
        seed: int. KID's subsets.

    Returns:
        dict as `compare_features`, with `num_images` and `extractor`.
    """
    n, batch_size = check_positive_int(n, "n"), check_positive_int(batch_size, "batch_size")
    low = model.value_bounds[0]
    from tfvae.models import VAE

    # A conditional VAE's networks see the label (the other models reconstruct from images alone).
    conditional = isinstance(model, VAE) and model.num_classes is not None
    if conditional and labels is None:
        raise ValueError(f"evaluate_reconstructions: a conditional {type(model).__name__} reconstructs with the "
                         "images' labels; received labels=None.")
    n = min(n, len(data))
    real, recon = [], []
    for start in range(0, n, batch_size):
        x = np.asarray(data[start:min(start + batch_size, n)])
        args = (labels[start:start + len(x)],) if conditional else ()
        real.append(_features(extractor, x, low))
        recon.append(_features(extractor, keras.ops.convert_to_numpy(model.reconstruct(x, *args)), low))
    results = compare_features(np.concatenate(real), np.concatenate(recon), seed=seed)
    results.update(num_images=n, extractor=extractor.description)
    return results
