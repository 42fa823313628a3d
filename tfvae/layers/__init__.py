"""Keras 3 layers of tfvae."""

from tfvae.layers.gaussian_sampler import GaussianSampler

__all__ = ["GaussianSampler"]
