"""Keras 3 layers of tfvae."""

from tfvae.layers.finite_scalar_quantizer import FiniteScalarQuantizer
from tfvae.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from tfvae.layers.gaussian_sampler import GaussianSampler
from tfvae.layers.inverse_autoregressive_flow import InverseAutoregressiveFlow
from tfvae.layers.lookup_free_quantizer import LookupFreeQuantizer
from tfvae.layers.made import MADE
from tfvae.layers.masked_conv2d import MaskedConv2D
from tfvae.layers.quantizer import Quantizer
from tfvae.layers.residual_block import ResidualBlock
from tfvae.layers.residual_vector_quantizer import ResidualVectorQuantizer
from tfvae.layers.spatial_attention import SpatialAttention
from tfvae.layers.vector_quantizer import VectorQuantizer
from tfvae.layers.vector_quantizer_ema import VectorQuantizerEMA

__all__ = [
    "FiniteScalarQuantizer", "GatedPixelCNNBlock", "GaussianSampler", "InverseAutoregressiveFlow",
    "LookupFreeQuantizer", "MADE", "MaskedConv2D", "Quantizer", "ResidualBlock", "ResidualVectorQuantizer",
    "SpatialAttention", "VectorQuantizer", "VectorQuantizerEMA",
]
