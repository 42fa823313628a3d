"""tfvae: variational autoencoders as Keras 3 models on TensorFlow."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "tfvae needs Keras' TensorFlow backend; KERAS_BACKEND is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before importing keras."
    )

from tfvae import (  # noqa: E402
    callbacks,
    data,
    evaluation,
    export,
    generative,
    images,
    layers,
    likelihoods,
    losses,
    metrics,
    serving,
)
from tfvae.layers import (  # noqa: E402
    GatedPixelCNNBlock,
    GaussianSampler,
    MaskedConv2D,
    VectorQuantizer,
    VectorQuantizerEMA,
)
from tfvae.models import (  # noqa: E402
    VAE,
    VQVAE,
    AdversarialAutoencoder,
    Autoencoder,
    ConditionalVAE,
    PixelCNNPrior,
)

__version__ = "0.1.0"

__all__ = [
    "VAE",
    "VQVAE",
    "ConditionalVAE",
    "PixelCNNPrior",
    "Autoencoder",
    "AdversarialAutoencoder",
    "GatedPixelCNNBlock",
    "GaussianSampler",
    "MaskedConv2D",
    "VectorQuantizer",
    "VectorQuantizerEMA",
    "callbacks",
    "data",
    "evaluation",
    "export",
    "generative",
    "images",
    "layers",
    "likelihoods",
    "losses",
    "metrics",
    "serving",
]
