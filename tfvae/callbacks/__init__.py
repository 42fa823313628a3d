"""Keras callbacks for training tfvae models; usable with any `fit`."""

from tfvae.callbacks.beta_schedule import BetaSchedule
from tfvae.callbacks.codebook_monitor import CodebookMonitor
from tfvae.callbacks.epoch_report import EpochReport
from tfvae.callbacks.epoch_seed import EpochSeed
from tfvae.callbacks.image_grid_writer import ImageGridWriter
from tfvae.callbacks.latent_traversal import LatentTraversal
from tfvae.callbacks.non_finite_stop import NonFiniteLossError, StopOnNonFinite
from tfvae.checkpoint import EpochCheckpoint

__all__ = [
    "BetaSchedule",
    "CodebookMonitor",
    "EpochCheckpoint",
    "EpochReport",
    "EpochSeed",
    "ImageGridWriter",
    "LatentTraversal",
    "NonFiniteLossError",
    "StopOnNonFinite",
]
