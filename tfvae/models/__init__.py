"""Keras 3 models of tfvae.

Note on XLA: `compile(jit_compile="auto")` is each model's measured default
(`jit_compile_default`); input value checks run before XLA-compiled steps.
"""

from tfvae.models.adversarial_autoencoder import AdversarialAutoencoder
from tfvae.models.autoencoder import Autoencoder
from tfvae.models.conditional_vae import ConditionalVAE
from tfvae.models.pixelcnn_prior import PixelCNNPrior
from tfvae.models.vae import VAE
from tfvae.models.vqvae import VQVAE

__all__ = ["AdversarialAutoencoder", "Autoencoder", "ConditionalVAE", "PixelCNNPrior", "VAE", "VQVAE"]
