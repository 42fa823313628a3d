"""Keras 3 models of tfvae.

Note on XLA: the models' in-graph input checks are `tf.debugging.Assert` ops,
which XLA removes; `compile(jit_compile="auto")` therefore means no XLA here.
"""

from tfvae.models.conditional_vae import ConditionalVAE
from tfvae.models.pixelcnn_prior import PixelCNNPrior
from tfvae.models.vae import VAE
from tfvae.models.vqvae import VQVAE

__all__ = ["ConditionalVAE", "PixelCNNPrior", "VAE", "VQVAE"]
