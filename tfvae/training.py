"""Resumable training runs: one `fit()` per run, checkpoints, exact resume.

What reports on a trained model (figures, images, JSON, export) is in
`tfvae.cli.reporting`; the command line (`tfvae.cli`) puts the two together.

A run is described by a `FitConfig` (epochs, batch size, seed, checkpoints,
callbacks) and the model's own constructor arguments: defaults of the models
are those of their constructors, never restated here.
"""

import dataclasses
import os
import sys
import time

import keras
import numpy as np

from tfvae import data, generative
from tfvae.models import VAE, VQVAE, AdversarialAutoencoder, Autoencoder, PixelCNNPrior

__all__ = ["FitConfig", "Trained", "encode_splits", "fit_resumable", "train_autoencoder", "train_prior", "train_vae",
           "train_vqvae"]


@dataclasses.dataclass
class FitConfig:
    """How to train: everything of a run that is not the model.

    Args:
        epochs: int. Total epochs of the run (a resumed run trains the rest).
        batch_size: int.
        learning_rate: float. Adam's learning rate.
        train_examples: int or None. Train on the first n training examples.
        test_examples: int or None. Test figures on the first n test examples.
        seed: int. Seeds weights, data order and noise (per epoch, see
            `tfvae.callbacks.EpochSeed`).
        verbose: int. 0 silent; 1 one line per epoch, plus Keras' progress bar
            on a terminal; 2 the progress bar always.
        checkpoint_dir: str or None. Per-epoch checkpoints go here.
        resume: bool. Continue from `checkpoint_dir`'s last checkpoint if any.
        callbacks: more Keras callbacks (any; stateful ones such as
            `EarlyStopping` keep their state across a resume).
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    train_examples: int = None
    test_examples: int = None
    seed: int = 0
    verbose: int = 1
    checkpoint_dir: str = None
    resume: bool = False
    callbacks: tuple = ()

    @property
    def split(self):
        """The training split, or its first `train_examples` examples, as a TFDS split string."""
        return "train" if self.train_examples is None else f"train[:{int(self.train_examples)}]"

    @property
    def test_split(self):
        """The test split, or its first `test_examples` examples."""
        return "test" if self.test_examples is None else f"test[:{int(self.test_examples)}]"

    def say(self, *args, **kwargs):
        if self.verbose:
            print(*args, **{**kwargs, "flush": True})

    def stage(self, name, **changes):
        """This configuration for one stage of a longer job (its own checkpoint subfolder)."""
        folder = None if self.checkpoint_dir is None else os.path.join(self.checkpoint_dir, name)
        return dataclasses.replace(self, checkpoint_dir=folder, **changes)


@dataclasses.dataclass
class Trained:
    """What a training run gives: the model, Keras' history of the epochs run now, and the time taken."""

    model: keras.Model
    history: dict
    seconds: float

    def final(self, validation_data=None):
        """The last epoch's validation figures, or (a finished resume) `evaluate` on `validation_data`."""
        if "val_loss" in self.history:
            return {k[len("val_"):]: float(v[-1]) for k, v in self.history.items() if k.startswith("val_")}
        return {k: float(v) for k, v in self.model.evaluate(validation_data, verbose=0, return_dict=True).items()}


def fit_resumable(build_model, train_data, config, validation_data=None):
    """Trains with one `model.fit()` call, checkpointing every epoch; resumes from the last checkpoint.

    Args:
        build_model: callable () -> compiled model, used when not resuming.
        train_data: a `tfvae.data.EpochData`: epoch k's batches depend on
            (seed, k) only, so a resumed run sees what an uninterrupted one would.
        config: `FitConfig`.
        validation_data: dataset or None.

    Returns:
        `Trained`.
    """
    from tfvae import checkpoint
    from tfvae.callbacks import EpochSeed, StopOnNonFinite

    model, start, restore = None, 0, None
    if config.resume:
        if not config.checkpoint_dir:
            raise ValueError("resume=True needs a checkpoint_dir.")
        latest = checkpoint.latest_checkpoint(config.checkpoint_dir)
        if latest is not None:
            model, restore = checkpoint.load_checkpoint(latest)
            if restore.get("seed") != config.seed:
                raise ValueError(f"The checkpoint {latest} was made with seed {restore.get('seed')}; "
                                 f"resume with that seed (received seed={config.seed}).")
            start = int(restore["next_epoch"])
            if restore.get("stop_training"):
                config.say(f"{latest}: the run was stopped after epoch {start} by a callback; nothing to resume.")
                return Trained(model, {}, 0.0)
            config.say(f"Resuming from {latest}: epoch {start + 1} of {config.epochs}.")
    if model is None:
        model = build_model()
    if start >= config.epochs:
        return Trained(model, {}, 0.0)
    callbacks = [StopOnNonFinite(), EpochSeed(config.seed), *config.callbacks]
    if config.checkpoint_dir:
        callbacks.append(checkpoint.EpochCheckpoint(config.checkpoint_dir, {"seed": config.seed},
                                                    callbacks=callbacks, restore=restore))
    began = time.perf_counter()
    history = model.fit(
        train_data.dataset(start, config.epochs), steps_per_epoch=train_data.steps_per_epoch(),
        validation_data=validation_data, initial_epoch=start, epochs=config.epochs, callbacks=callbacks,
        verbose=_keras_verbose(config.verbose), shuffle=False,  # the data are already in each epoch's order
    )
    return Trained(model, history.history, time.perf_counter() - began)


def _compiled(model, config, what):
    """`model` compiled with Adam at the configured rate, announced in one line."""
    model.compile(keras.optimizers.Adam(config.learning_rate))
    config.say(f"Training {what} for {config.epochs} epochs; {model.count_params():,} parameters.")
    return model


def _keras_verbose(verbose):
    """0: quiet; 1: Keras' progress bar on a terminal only (logs stay clean); 2: always the bar."""
    if verbose >= 2:
        return 1
    return 1 if verbose == 1 and sys.stdout.isatty() else 0


def _start(dataset, architecture, config):
    """Checks `architecture`, seeds the run; returns the data set's `DatasetInfo`."""
    if architecture not in ("mlp", "conv", "resnet"):
        raise ValueError(f"`architecture` must be 'mlp', 'conv' or 'resnet'; received architecture={architecture!r}.")
    info = data.dataset_info(dataset)
    keras.utils.set_random_seed(config.seed)
    return info


def train_vae(dataset, model_args, config, architecture="mlp", binarize=None, validation_data=None):
    """Trains a Gaussian VAE (`VAE.mlp`, `VAE.conv` or `VAE.resnet` with `model_args`) on `dataset`.

    Args:
        dataset: str. A name of `tfvae.data.DATASETS`.
        model_args: dict. Arguments of the builder (latent_dim, likelihood,
            num_classes for a conditional VAE, ...); the rest take the
            builder's defaults.
        config: `FitConfig`.
        architecture: "mlp" (the AEVB paper's), "conv" or "resnet" (a spatial latent).
        binarize: None or "dynamic": fresh Bernoulli draws of grey levels each epoch.
        validation_data: dataset or None, evaluated after every epoch.

    Returns:
        `Trained`.
    """
    info = _start(dataset, architecture, config)
    conditional = model_args.get("num_classes") is not None
    train_data = data.EpochData(dataset, config.split, config.batch_size, config.seed, with_labels=conditional,
                                binarize=binarize)

    def build():
        model = getattr(VAE, architecture)(info.image_shape, seed=config.seed, **model_args)
        return _compiled(model, config, f"a {'conditional ' if conditional else ''}VAE ({architecture}, "
                                        f"{model.likelihood}, latent {model.latent_dim}) on {dataset} {config.split}")

    return fit_resumable(build, train_data, config, validation_data)


def train_autoencoder(dataset, model_args, config, architecture="mlp", adversarial=False, validation_data=None):
    """Trains an `Autoencoder` (or, `adversarial`, an `AdversarialAutoencoder`) built by `.mlp` or `.conv`.

    Args:
        dataset: str. A name of `tfvae.data.DATASETS`.
        model_args: dict. Arguments of the builder (latent_dim, noise_stddev,
            dropout, likelihood, num_classes for the adversarial one's
            class-conditional prior, ...); the rest take the builder's defaults.
        config: `FitConfig`. The adversarial autoencoder's three optimizers
            are Adam at `config.learning_rate`.
        architecture: "mlp", "conv" or "resnet" (a spatial code; not for the adversarial one).
        adversarial: bool.
        validation_data: dataset or None, evaluated after every epoch.

    Returns:
        `Trained`.
    """
    info = _start(dataset, architecture, config)
    conditional = model_args.get("num_classes") is not None
    train_data = data.EpochData(dataset, config.split, config.batch_size, config.seed, with_labels=conditional)
    cls = AdversarialAutoencoder if adversarial else Autoencoder

    def build():
        model = getattr(cls, architecture)(info.image_shape, seed=config.seed, **model_args)
        if adversarial:
            kind = "an adversarial autoencoder" + (" with a class-conditional prior" if conditional else "")
        else:
            kind = "a denoising autoencoder" if model.noise_stddev else "an autoencoder"
        return _compiled(model, config, f"{kind} ({architecture}, {model.likelihood}, code size "
                                        f"{model.latent_dim}) on {dataset} {config.split}")

    return fit_resumable(build, train_data, config, validation_data)


def train_vqvae(dataset, model_args, config, validation_data=None, architecture="conv"):
    """Trains a VQ-VAE (`VQVAE.conv` or `VQVAE.resnet` with `model_args`) on `dataset`.

    Reconstruction is the squared error divided by the training pixels'
    variance (`data_variance`, measured here unless given).

    Returns:
        `Trained`.
    """
    if architecture not in ("conv", "resnet"):
        raise ValueError(f"`architecture` must be 'conv' or 'resnet' for a VQ-VAE; received "
                         f"architecture={architecture!r}.")
    info = _start(dataset, architecture, config)
    train_data = data.EpochData(dataset, config.split, config.batch_size, config.seed)
    model_args = {"data_variance": train_data.pixel_variance(), **model_args}

    def build():
        model = getattr(VQVAE, architecture)(info.image_shape, seed=config.seed, **model_args)
        return _compiled(model, config, f"a VQ-VAE ({model.num_embeddings} codes of size "
                                        f"{model.quantizer.embedding_dim}, grid {model.grid_shape[0]}x"
                                        f"{model.grid_shape[1]}, pixel variance {model.data_variance:.5f}) on "
                                        f"{dataset} {config.split}")

    return fit_resumable(build, train_data, config, validation_data)


def encode_splits(vqvae, dataset, split="train", with_labels=False, test_split="test"):
    """Code grids of a data set's `split` and `test_split`: ((codes, labels), (codes, labels)).

    Labels are None unless `with_labels`.
    """
    load = dict(with_labels=with_labels, shuffle=False, cache=False)
    out = []
    for part in (split, test_split):
        encoded = generative.encode_dataset(vqvae, data.load(dataset, part, 512, **load))
        out.append(encoded if with_labels else (encoded, None))
    return tuple(out)


def train_prior(vqvae, train_codes, model_args, config, train_labels=None, validation_data=None):
    """Fits a `PixelCNNPrior` (with `model_args`) to a VQ-VAE's code grids.

    Returns:
        `Trained`.
    """
    keras.utils.set_random_seed(config.seed)
    arrays = (train_codes,) if train_labels is None else (train_codes, np.asarray(train_labels, np.int32))
    train_data = data.EpochData(arrays=arrays, batch_size=config.batch_size, seed=config.seed)

    def build():
        prior = PixelCNNPrior(vqvae.grid_shape, vqvae.num_embeddings, **model_args)
        return _compiled(prior, config, f"a PixelCNN prior ({prior.num_layers} gated blocks of {prior.filters} "
                                        f"filters{', conditional' if prior.num_classes else ''}) on "
                                        f"{len(train_codes):,} code grids")

    return fit_resumable(build, train_data, config, validation_data)
