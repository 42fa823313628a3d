"""Keras 3 layers of tfvae."""

from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.layers.vector_quantizer import VectorQuantizer, VectorQuantizerEMA

__all__ = ["GaussianSampler", "VectorQuantizer", "VectorQuantizerEMA"]
