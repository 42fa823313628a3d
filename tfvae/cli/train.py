"""`tfvae train`: builds the configs of `tfvae.training` from the flags and reports the trained models."""

import dataclasses
import os

from tfvae.cli.parser import builder_args, model_args


def _callbacks(a, kind, say):
    import keras

    from tfvae import callbacks, data

    out = []
    logs = os.path.join(a.output_dir, "logs") if a.tensorboard else None
    if logs:
        out.append(keras.callbacks.TensorBoard(logs))
    if a.early_stopping:
        out.append(keras.callbacks.EarlyStopping("val_loss", min_delta=a.min_delta, patience=a.early_stopping,
                                                 verbose=int(a.verbose > 0)))
    if a.reduce_lr:
        out.append(keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=a.reduce_lr,
                                                     min_delta=a.min_delta, verbose=int(a.verbose > 0)))
    if a.image_every and kind != "prior":
        test = data.load_arrays(a.dataset, "test", with_labels=kind == "cvae", limit=16)
        images, labels = test if kind == "cvae" else (test, None)
        out.append(callbacks.ImageGridWriter(os.path.join(a.output_dir, "images"), images, labels,
                                             num_samples=0 if kind == "vqvae" else 64,
                                             every_n_epochs=a.image_every, log_dir=logs))
        if kind in ("vae", "cvae"):
            out.append(callbacks.LatentTraversal(os.path.join(a.output_dir, "images"), images[0],
                                                 None if labels is None else int(labels[0]),
                                                 every_n_epochs=a.image_every))
    if kind == "vqvae":
        out.append(callbacks.CodebookMonitor(logs, printer=say if a.verbose else None))
    return out


def run(a):
    if a.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if a.kind in ("vae", "cvae"):
        return _train_vae(a)
    if a.kind in ("ae", "aae"):
        return _train_autoencoder(a)
    if a.kind == "vqvae":
        return _train_vqvae(a)
    return _train_prior(a)


def _fit_config(a, kind, default_batch_size):
    from tfvae.training import FitConfig

    say = print if a.verbose else (lambda *x, **k: None)
    return FitConfig(epochs=a.epochs, batch_size=a.batch_size or default_batch_size, learning_rate=a.learning_rate,
                     train_examples=a.train_examples, test_examples=a.test_examples, seed=a.seed, verbose=a.verbose,
                     checkpoint_dir=os.path.join(a.output_dir, "checkpoints"), resume=a.resume,
                     callbacks=tuple(_callbacks(a, kind, say)))


def _source(a, default):
    """`a.dataset` (or `default`) as the one `tfvae.data.DataSource` of the run, with --image-size/--channels."""
    from tfvae import data
    from tfvae.cli.parser import source_args

    a.dataset = data.source(a.dataset or default, **source_args(a))
    return a.dataset


def _test_data(dataset, with_labels, binarize=False, seed=0, split="test"):
    """Test arrays (images, labels or None) of `split` and the dataset fit validates on."""
    import numpy as np
    import tensorflow as tf

    from tfvae import data

    test = data.load_arrays(dataset, split, with_labels=with_labels)
    x, y = test if with_labels else (test, None)
    if binarize:
        # One fixed binarisation of the test set, as in the IWAE paper's evaluation.
        x = (np.random.default_rng(seed).random(x.shape) < x).astype(np.float32)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y) if with_labels else x).batch(500)


def _train_vae(a):
    from tfvae import training
    from tfvae.cli import reporting

    info = _source(a, "mnist" if a.conditional else "binarized_mnist").info
    config = _fit_config(a, a.kind, 100)
    vae_args = builder_args(a, "vae_")
    if "likelihood" not in vae_args:  # what the data are decides, so this default lives here
        vae_args["likelihood"] = ("bernoulli" if (info.binary or a.binarize) else
                                  "discretized_gaussian" if info.eight_bit else "gaussian")
    if a.conditional:
        vae_args["num_classes"] = info.num_classes
    x_test, y_test, test_ds = _test_data(a.dataset, a.conditional, a.binarize, a.seed, config.test_split)
    report = _epoch_report(config.epochs, {"loss": "-ELBO"}, " nats", config)
    config = dataclasses.replace(config, callbacks=(report, *config.callbacks))
    trained = training.train_vae(a.dataset, vae_args, config, a.architecture, a.binarize, test_ds)
    results = {"dataset": str(a.dataset), "architecture": a.architecture, "latent_dim": trained.model.latent_dim,
               "epochs": a.epochs, "train_seconds": round(trained.seconds, 1)}
    results.update(reporting.vae_figures(trained, test_ds, x_test, y_test, a.iw_samples, a.iw_examples, a.seed,
                                         say=config.say))
    written = reporting.vae_images(trained.model, x_test, y_test, a.output_dir, a.seed)
    return _finish(a, trained.model, results, written, config)


def _train_autoencoder(a):
    from tfvae import training
    from tfvae.cli import reporting

    info = _source(a, "mnist").info
    config = _fit_config(a, a.kind, 100)
    ae_args = builder_args(a, "ae_")
    if "likelihood" not in ae_args:  # what the data are decides, so this default lives here
        ae_args["likelihood"] = "bernoulli" if info.binary else "squared_error"
    if a.conditional:
        if not info.num_classes:
            raise ValueError(f"{str(a.dataset)!r} has no labels; received --conditional.")
        ae_args["num_classes"] = info.num_classes
    x_test, _, test_ds = _test_data(a.dataset, a.conditional, split=config.test_split)
    shown = {"loss": "reconstruction"}
    if a.adversarial:
        shown.update(discriminator_loss="discriminator", generator_loss="generator",
                     mmd="MMD^2 to p(z|y)" if a.conditional else "MMD^2 to N(0, I)")
    config = dataclasses.replace(config, callbacks=(_epoch_report(config.epochs, shown, "", config),
                                                    *config.callbacks))
    trained = training.train_autoencoder(a.dataset, ae_args, config, a.architecture, a.adversarial, test_ds)
    results = {"dataset": str(a.dataset), "architecture": a.architecture, "latent_dim": trained.model.latent_dim,
               "epochs": a.epochs, "train_seconds": round(trained.seconds, 1)}
    results.update(reporting.autoencoder_figures(trained, test_ds))
    written = reporting.autoencoder_images(trained.model, x_test, a.output_dir, a.seed)
    return _finish(a, trained.model, results, written, config)


def _train_vqvae(a):
    import numpy as np
    import tensorflow as tf

    from tfvae import data, generative, images, training
    from tfvae.cli import reporting
    from tfvae.models.vqvae import QUANTIZERS

    info = _source(a, "mnist").info
    if a.conditional and not info.num_classes:
        raise ValueError(f"{str(a.dataset)!r} has no labels; received --conditional.")
    config = _fit_config(a, "vqvae", 128)
    x_test, y_test, _ = _test_data(a.dataset, a.conditional, split=config.test_split)
    test_ds = tf.data.Dataset.from_tensor_slices(x_test).batch(500)  # the VQ-VAE sees images only
    report = _epoch_report(config.epochs, {"reconstruction": "normalised MSE", "perplexity": "perplexity",
                                           "codebook_usage": "usage"}, "", config)
    vq_config = config.stage("vqvae", callbacks=(report, *config.callbacks))
    trained = training.train_vqvae(a.dataset, builder_args(a, "vq_"), vq_config, test_ds, a.architecture)
    vqvae = trained.model
    quantizer = {cls: name for name, cls in QUANTIZERS.items()}.get(type(vqvae.quantizer), "custom")
    results = {"dataset": str(a.dataset), "architecture": a.architecture, "quantizer": quantizer, "epochs": a.epochs,
               "train_seconds": round(trained.seconds, 1)}
    results.update(reporting.vqvae_figures(trained, test_ds))
    written = reporting.vqvae_images(vqvae, x_test, a.output_dir)
    config.say(f"test: normalised MSE {results['test_reconstruction']:.4f}, perplexity "
               f"{results['test_perplexity']:.1f}, codebook usage {results['test_codebook_usage']:.3f}")
    if a.prior_epochs == 0:
        return _finish(a, vqvae, results, written, config)

    prior_config = config.stage("prior", epochs=a.prior_epochs, callbacks=())
    prior, prior_results = _fit_prior(a, vqvae, prior_config, a.conditional)
    results.update(prior_results)
    results.update(reporting.two_stage_figures(vqvae, prior, x_test, y_test,
                                               data.load_arrays(a.dataset, config.split, limit=10_000)))
    labels = None
    if a.conditional:
        labels = np.arange(a.num_samples) // max(1, a.num_samples // info.num_classes) % info.num_classes
    samples, _ = generative.sample_images(vqvae, prior, a.num_samples, seed=a.seed, labels=labels)
    images.save_png(os.path.join(a.output_dir, "samples.png"), samples.numpy(), columns=10,
                    value_range=vqvae.value_bounds)
    prior.save(os.path.join(a.output_dir, "prior.keras"))
    config.say(f"prior: test {results['prior_test_nats_per_code']:.4f} nats/code "
               f"({results['prior_test_bits_per_code']:.4f} bits/code)")
    config.say(f"two-stage model: test NLL bound {results['test_nll_bound_bits_per_dim']:.4f} bits/dim "
               f"(reconstruction {results['test_reconstruction_nats']:.1f} + prior "
               f"{results['test_prior_nats']:.1f} nats per image)")
    return _finish(a, vqvae, results, [*written, "samples.png", "prior.keras"], config, prior=prior)


def _fit_prior(a, vqvae, config, conditional):
    """Encodes the data with `vqvae` and fits a PixelCNN prior to the codes: (prior, figures)."""
    import time

    import tensorflow as tf

    from tfvae import data, training
    from tfvae.cli import reporting

    began = time.perf_counter()
    (tc, tl), (vc, vl) = training.encode_splits(vqvae, a.dataset, config.split, conditional, config.test_split)
    config.say(f"Encoded {len(tc):,} training and {len(vc):,} test images into {vqvae.grid_shape[0]}x"
               f"{vqvae.grid_shape[1]} code grids in {time.perf_counter() - began:.1f} s.")
    prior_args = model_args(a, "pixelcnn_")
    if conditional:
        prior_args["num_classes"] = data.dataset_info(a.dataset).num_classes
    test_ds = tf.data.Dataset.from_tensor_slices((vc, vl) if conditional else vc).batch(config.batch_size)
    report = _epoch_report(config.epochs, {"loss": "nats/grid", "bits_per_code": "bits/code"}, "", config)
    config = dataclasses.replace(config, callbacks=(report, *config.callbacks))
    trained = training.train_prior(vqvae, tc, prior_args, config, tl, test_ds)
    results = {"prior_epochs": config.epochs, "prior_train_seconds": round(trained.seconds, 1)}
    results.update(reporting.prior_figures(trained, test_ds))
    return trained.model, results


def _train_prior(a):
    from tfvae.checkpoint import load_model
    from tfvae.cli import reporting

    vqvae = load_model(a.vqvae)
    _source(a, "mnist")
    prior, results = _fit_prior(a, vqvae, _fit_config(a, "prior", 128), a.conditional)
    os.makedirs(a.output_dir, exist_ok=True)
    prior.save(os.path.join(a.output_dir, "prior.keras"))
    reporting.write_results(a.output_dir, results)
    return results


def _finish(a, model, results, written, config, prior=None):
    """Saves model.keras, exports (unless --no-export) and writes results.json."""
    from tfvae.cli import reporting

    model.save(os.path.join(a.output_dir, "model.keras"))
    if a.export:
        results.update(reporting.export_model(model, a.output_dir, prior=prior, say=config.say))
    reporting.write_results(a.output_dir, results)
    config.say(f"Wrote {', '.join([*written, 'model.keras'])} and results.json to {a.output_dir}")
    return results


def _epoch_report(epochs, metrics, unit, config):
    from tfvae.callbacks import EpochReport

    return EpochReport(epochs, metrics, unit=unit, printer=config.say)
