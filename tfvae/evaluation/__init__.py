"""Sample quality: Fréchet distance, KID, precision/recall and density/coverage of generated images.

Figures compare feature vectors of generated and real images given by one
`FeatureExtractor`: InceptionV3's pool features where its ImageNet weights are
available (`FeatureExtractor.inception_v3()`, the standard FID), or a
classifier tfvae trains on the data set itself (`train_feature_extractor`),
the substitute on machines without internet. Figures from different
extractors are not comparable, so every result names its extractor.
"""

from tfvae.evaluation.evaluate_samples import (
    compare_features,
    evaluate_reconstructions,
    evaluate_samples,
    reference_features,
)
from tfvae.evaluation.feature_extractor import FeatureExtractor
from tfvae.evaluation.feature_statistics import FeatureStatistics
from tfvae.evaluation.frechet_distance import frechet_distance
from tfvae.evaluation.kernel_distance import kernel_distance
from tfvae.evaluation.precision_recall import density_coverage, precision_recall
from tfvae.evaluation.train_feature_extractor import cache_path, classifier_network, train_feature_extractor

__all__ = [
    "FeatureExtractor",
    "FeatureStatistics",
    "cache_path",
    "classifier_network",
    "compare_features",
    "density_coverage",
    "evaluate_reconstructions",
    "evaluate_samples",
    "frechet_distance",
    "kernel_distance",
    "precision_recall",
    "reference_features",
    "train_feature_extractor",
]
