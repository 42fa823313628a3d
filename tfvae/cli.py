"""The `tfvae` command line: train, evaluate, sample, export.

    tfvae train vae --dataset binarized_mnist --epochs 10 --output-dir runs/vae
    tfvae train ae --noise-stddev 0.5 --output-dir runs/dae          # a denoising autoencoder
    tfvae train aae --latent-dim 8 --output-dir runs/aae             # an adversarial autoencoder
    tfvae train vqvae --epochs 4 --prior-epochs 4 --output-dir runs/vqvae   # VQ-VAE and its prior
    tfvae train prior --vqvae runs/vqvae/model.keras --epochs 10 --output-dir runs/prior
    tfvae evaluate runs/vae/model.keras --iw-samples 1000
    tfvae sample runs/vqvae/model.keras --prior runs/vqvae/prior.keras -n 64 --out samples.png
    tfvae export runs/vae/model.keras --saved-model serving/vae --tflite vae_decode.tflite

Each training run is one `fit()` call. It writes a checkpoint every epoch to
OUTPUT_DIR/checkpoints (with the state of early stopping and learning-rate
reduction); `--resume` continues from the last one and reaches the weights an
uninterrupted run would. Training is `tfvae.training`, what is reported on
the trained models `tfvae.reporting`.
"""

import argparse
import dataclasses
import json
import math
import os
import sys

__all__ = ["main"]


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults once: not where the help states it, nor where a flag has none (the constructor decides)."""

    def _get_help_string(self, action):
        if action.default is None or "default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Refuses bad flags in one line (`tfvae CMD: error: argument --flag: ...`), before any work starts."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _number(kind, low=None, high=None, low_open=False, high_open=False, odd=False):
    """An argparse type: an int or float within bounds, refused with the value received and what is allowed."""
    allowed = [f"{'>' if low_open else '>='} {low}" if low is not None else None,
               f"{'<' if high_open else '<='} {high}" if high is not None else None]
    noun = ("odd " if odd else "") + ("integer" if kind is int else "number")
    allowed = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun} " + " and ".join(a for a in allowed if a)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}; received {text!r}") from None
        ok = math.isfinite(value)
        ok = ok and (low is None or (value > low if low_open else value >= low))
        ok = ok and (high is None or (value < high if high_open else value <= high))
        ok = ok and (not odd or value % 2 == 1)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {allowed}; received {text}")
        return value

    return parse


POSITIVE_INT = _number(int, 1)
COUNT = _number(int, 0)
POSITIVE = _number(float, 0, low_open=True)


def _folder(text):
    """An output folder: created when missing, refused when a file stands there."""
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a file; expected a folder (created if missing)")
    return text


def _png_path(text):
    """A PNG file to write: its folder is created when missing; refused when a file stands in the way."""
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a .png file name")
    parent = os.path.dirname(os.path.abspath(text))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise argparse.ArgumentTypeError(f"{parent} is a file, so {text} cannot be written")
    return text


def _add_common_train(p, default_epochs):
    p.add_argument("--dataset", help="data set name (tfvae.data.DATASETS)")
    p.add_argument("--epochs", type=POSITIVE_INT, default=default_epochs, help=f"training epochs (default: {default_epochs})")
    p.add_argument("--batch-size", type=POSITIVE_INT, help="batch size (default: 100 for VAEs, 128 for VQ models)")
    p.add_argument("--learning-rate", type=POSITIVE, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--train-examples", type=POSITIVE_INT, help="train on the first N training examples only")
    p.add_argument("--output-dir", type=_folder, required=True, help="where the model, figures, results and checkpoints go")
    p.add_argument("--seed", type=COUNT, default=0, help="random seed (default: 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoints if there is one")
    p.add_argument("--deterministic", action="store_true",
                   help="enable TensorFlow's deterministic ops (bit-identical reruns; slower)")
    p.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs to OUTPUT_DIR/logs")
    p.add_argument("--image-every", type=COUNT, default=0,
                   help="write sample/reconstruction grids (and TensorBoard images) every N epochs (default: 0, off)")
    p.add_argument("--early-stopping", type=POSITIVE_INT, metavar="PATIENCE",
                   help="stop when the test loss has not improved for PATIENCE epochs (keras.callbacks.EarlyStopping)")
    p.add_argument("--reduce-lr", type=POSITIVE_INT, metavar="PATIENCE",
                   help="halve the learning rate when the test loss has not improved for PATIENCE epochs "
                        "(keras.callbacks.ReduceLROnPlateau)")
    p.add_argument("--min-delta", type=_number(float, 0), default=0.0,
                   help="the least decrease of the test loss that counts as an improvement for --early-stopping "
                        "and --reduce-lr")
    p.add_argument("--no-export", dest="export", action="store_false", help="skip the SavedModel/.tflite export")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0 quiet; 1 a line per epoch, plus the progress bar on a terminal; 2 always the bar")


def _parser():
    parser = _Parser(prog="tfvae", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model", description="Train a model; see `tfvae train KIND --help`.")
    kinds = train.add_subparsers(dest="kind", required=True)
    for kind, conditional in (("vae", False), ("cvae", True)):
        p = kinds.add_parser(kind, help=("conditional " if conditional else "") + "Gaussian VAE (AEVB)",
                             formatter_class=_Help)
        _add_common_train(p, 10)
        p.add_argument("--architecture", default="mlp", choices=["mlp", "conv"], help="network family")
        p.add_argument("--latent-dim", type=POSITIVE_INT, default=20, dest="vae_latent_dim", metavar="LATENT_DIM",
                       help="latent dimensions")
        p.add_argument("--hidden-units", type=POSITIVE_INT, nargs="+", dest="vae_hidden_units", metavar="UNITS",
                       help="hidden layer widths (conv: the dense layer's; default: VAE.mlp's / VAE.conv's)")
        p.add_argument("--likelihood", choices=["bernoulli", "discretized_gaussian", "gaussian"],
                       dest="vae_likelihood",
                       help="default: bernoulli for binary data, discretized_gaussian for 8-bit grey levels")
        p.add_argument("--binarize", choices=["dynamic"], help="fresh Bernoulli binarisation each epoch")
        p.add_argument("--beta", type=_number(float, 0), dest="vae_beta", metavar="BETA",
                       help="KL weight (default: VAE's)")
        p.add_argument("--kl-warmup-steps", type=COUNT, dest="vae_kl_warmup_steps", metavar="STEPS",
                       help="linear KL warm-up steps (default: VAE's)")
        if conditional:
            p.add_argument("--conditioning", choices=["inputs", "prior_mean"], dest="vae_conditioning",
                           help="labels into the networks, or a learned prior mean per class (default: VAE's)")
        p.add_argument("--iw-samples", type=COUNT, help="k of the importance-weighted test NLL, 0 skips it "
                                                       "(default: VAE.log_likelihood's)")
        p.add_argument("--iw-examples", type=POSITIVE_INT, default=1000, help="test images for the NLL")
        p.set_defaults(conditional=conditional)
    for kind, adversarial in (("ae", False), ("aae", True)):
        p = kinds.add_parser(kind, help=("adversarial autoencoder (Makhzani et al.)" if adversarial else
                                         "autoencoder: plain, denoising (--noise-stddev), dropout (--dropout)"),
                             formatter_class=_Help)
        _add_common_train(p, 10)
        p.add_argument("--architecture", default="mlp", choices=["mlp", "conv"], help="network family")
        p.add_argument("--latent-dim", type=POSITIVE_INT, default=8, dest="ae_latent_dim", metavar="LATENT_DIM",
                       help="code size")
        owner = "AdversarialAutoencoder" if adversarial else "Autoencoder"
        _model_flag(p, f"{owner}.mlp / .conv", "--hidden-units", "ae_hidden_units",
                    "hidden layer widths (conv: the dense layer's)", type=POSITIVE_INT, nargs="+")
        _model_flag(p, f"{owner}.mlp / .conv", "--dropout", "ae_dropout", "dropout rate after hidden layers",
                    type=_number(float, 0, 1, high_open=True))
        _model_flag(p, owner, "--noise-stddev", "ae_noise_stddev", "training corruption N(0, s^2) (denoising)",
                    type=_number(float, 0))
        p.add_argument("--reconstruction", choices=["squared_error", "bernoulli"], dest="ae_reconstruction",
                       help="default: bernoulli for binary data, squared_error otherwise")
        if adversarial:
            _model_flag(p, f"{owner}.mlp / .conv", "--discriminator-units", "ae_discriminator_units",
                        "discriminator hidden layer widths", type=POSITIVE_INT, nargs="+")
            p.add_argument("--conditional", action="store_true",
                           help="class-conditional prior p(z|y): one Gaussian per class (needs labels)")
        p.set_defaults(adversarial=adversarial, **({} if adversarial else {"conditional": False}))
    p = kinds.add_parser("vqvae", help="VQ-VAE, then its PixelCNN prior (--prior-epochs 0: VQ-VAE only)",
                         formatter_class=_Help)
    _add_common_train(p, 4)
    _add_vq_args(p)
    _add_prior_args(p, default_epochs=4)
    p.add_argument("--conditional", action="store_true", help="condition the prior on labels")
    p.add_argument("--num-samples", type=POSITIVE_INT, default=100, help="images in samples.png")
    p = kinds.add_parser("prior", help="PixelCNN prior for a trained VQ-VAE",
                         formatter_class=_Help)
    _add_common_train(p, 10)
    p.add_argument("--vqvae", required=True, help="the trained VQ-VAE (.keras)")
    p.add_argument("--conditional", action="store_true", help="condition the prior on labels")
    _add_prior_args(p, default_epochs=None)

    p = sub.add_parser("evaluate", help="test figures of a saved model",
                       formatter_class=_Help,
                       description="The model's own metrics, named as in its training logs (VAE: loss = -ELBO, "
                                   "reconstruction, kl; VQ-VAE: reconstruction = normalised MSE, perplexity, "
                                   "codebook usage, ...; prior, with --vqvae: loss = nats per grid, bits per code), "
                                   "plus the importance-weighted NLL and bits/dim (VAE) and the NLL bound (VQ-VAE "
                                   "with --prior).")
    p.add_argument("model", help="a .keras file written by tfvae")
    p.add_argument("--dataset", required=True, help="data set to evaluate on")
    p.add_argument("--split", default="test", help="split")
    p.add_argument("--prior", help="VQ-VAE: its prior (.keras)")
    p.add_argument("--vqvae", help="prior: its VQ-VAE (.keras)")
    p.add_argument("--iw-samples", type=COUNT, help="VAE: k of the importance-weighted NLL, 0 skips it "
                                                   "(default: VAE.log_likelihood's)")
    p.add_argument("--examples", type=POSITIVE_INT, help="evaluate the first N examples only")
    p.add_argument("--binarize", choices=["dynamic"], help="binarise grey levels once (VAE on mnist)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = sub.add_parser("sample", help="a PNG grid of new images from a saved model",
                       formatter_class=_Help)
    p.add_argument("model", help="a VAE/ConditionalVAE or VQ-VAE .keras file, or an exported SavedModel "
                                 "version folder with a sample signature")
    p.add_argument("--prior", help="VQ-VAE: the prior (.keras) to sample codes from")
    p.add_argument("-n", "--num-samples", type=POSITIVE_INT, default=64, help="number of images")
    p.add_argument("--labels", type=COUNT, nargs="+", help="class label(s) for conditional models")
    p.add_argument("--temperature", type=POSITIVE, default=1.0, help="prior sampling temperature")
    p.add_argument("--columns", type=POSITIVE_INT, default=8, help="images per row")
    p.add_argument("--seed", type=COUNT, default=0, help="random seed")
    p.add_argument("--out", type=_png_path, required=True, help="PNG file to write")

    p = sub.add_parser("export", help="SavedModel for TF Serving and/or a .tflite file",
                       formatter_class=_Help)
    p.add_argument("model", help="a .keras file written by tfvae")
    p.add_argument("--prior", help="VQ-VAE: add the prior's sample signatures")
    p.add_argument("--saved-model", help="TF Serving model folder; the version goes inside")
    p.add_argument("--version", type=POSITIVE_INT, help="version number (default: next free)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--tflite", help=".tflite file to write")
    p.add_argument("--signature", default="decode", help="signature for --tflite")
    p.add_argument("--quantization", choices=["float16", "dynamic", "int8"], help="TFLite quantisation")
    p.add_argument("--dataset", help="int8: data set whose training images calibrate the quantisation")
    return parser


# Model flags have no defaults of their own: a flag not given leaves the argument
# to the model's constructor (`_model_args`), so each default is defined once.
def _model_flag(p, owner, flag, dest, help, **kwargs):
    if "choices" not in kwargs:
        kwargs["metavar"] = flag.lstrip("-").upper().replace("-", "_")  # not the prefixed dest
    p.add_argument(flag, dest=dest, help=f"{help} (default: {owner}'s)", **kwargs)


def _add_vq_args(p):
    _model_flag(p, "VQVAE.conv", "--quantizer", "vq_quantizer", "codebook by gradient or EMA", choices=["vq", "ema"])
    _model_flag(p, "VQVAE.conv", "--num-embeddings", "vq_num_embeddings", "codebook size", type=_number(int, 2))
    _model_flag(p, "VQVAE.conv", "--embedding-dim", "vq_embedding_dim", "code size", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--hidden-filters", "vq_hidden_filters", "conv width", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--residual-filters", "vq_residual_filters", "residual block width", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--downsamplings", "vq_num_downsamplings", "stride-2 steps", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--residual-blocks", "vq_num_residual_blocks", "residual blocks per network",
                type=COUNT)
    _model_flag(p, "VQVAE.conv", "--commitment-cost", "vq_commitment_cost", "beta", type=_number(float, 0))
    _model_flag(p, "VQVAE.conv", "--decay", "vq_decay", "EMA decay", type=_number(float, 0, 1, high_open=True))
    _model_flag(p, "VQVAE.conv", "--dead-code-steps", "vq_dead_code_steps", "restart codes unused this many steps",
                type=POSITIVE_INT)


def _add_prior_args(p, default_epochs):
    _model_flag(p, "PixelCNNPrior", "--prior-filters", "pixelcnn_filters", "prior channels", type=POSITIVE_INT)
    _model_flag(p, "PixelCNNPrior", "--prior-layers", "pixelcnn_num_layers", "gated blocks", type=POSITIVE_INT)
    _model_flag(p, "PixelCNNPrior", "--prior-kernel-size", "pixelcnn_kernel_size", "kernel width (odd)",
                type=_number(int, 1, odd=True))
    if default_epochs is not None:
        p.add_argument("--prior-epochs", type=COUNT, default=default_epochs, help="prior epochs")


def _model_args(a, prefix):
    """The model arguments given as flags `--...` with `dest=prefix + argument`; flags not given are left out."""
    return {k[len(prefix):]: v for k, v in vars(a).items() if k.startswith(prefix) and v is not None}


def _builder_args(a, prefix):
    """`_model_args` for the `.mlp` / `.conv` builders: a conv network has one dense layer, of the first width."""
    model_args = _model_args(a, prefix)
    if a.architecture == "conv" and "hidden_units" in model_args:
        model_args["hidden_units"] = model_args["hidden_units"][0]
    return model_args


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


def _train(a):
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
                     train_examples=a.train_examples, seed=a.seed, verbose=a.verbose,
                     checkpoint_dir=os.path.join(a.output_dir, "checkpoints"), resume=a.resume,
                     callbacks=tuple(_callbacks(a, kind, say)))


def _test_data(dataset, with_labels, binarize=False, seed=0):
    """Test arrays (images, labels or None) and the dataset fit validates on."""
    import numpy as np
    import tensorflow as tf

    from tfvae import data

    test = data.load_arrays(dataset, "test", with_labels=with_labels)
    x, y = test if with_labels else (test, None)
    if binarize:
        # One fixed binarisation of the test set, as in the IWAE paper's evaluation.
        x = (np.random.default_rng(seed).random(x.shape) < x).astype(np.float32)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y) if with_labels else x).batch(500)


def _train_vae(a):
    from tfvae import data, reporting, training

    a.dataset = a.dataset or ("mnist" if a.conditional else "binarized_mnist")
    info = data.dataset_info(a.dataset)
    config = _fit_config(a, a.kind, 100)
    model_args = _builder_args(a, "vae_")
    if "likelihood" not in model_args:  # what the data are decides, so this default lives here
        model_args["likelihood"] = "bernoulli" if (info.binary or a.binarize) else "discretized_gaussian"
    if a.conditional:
        model_args["num_classes"] = info.num_classes
    x_test, y_test, test_ds = _test_data(a.dataset, a.conditional, a.binarize, a.seed)
    report = _epoch_report(config.epochs, {"loss": "-ELBO"}, " nats", config)
    config = dataclasses.replace(config, callbacks=(report, *config.callbacks))
    trained = training.train_vae(a.dataset, model_args, config, a.architecture, a.binarize, test_ds)
    results = {"dataset": a.dataset, "architecture": a.architecture, "latent_dim": trained.model.latent_dim,
               "epochs": a.epochs, "train_seconds": round(trained.seconds, 1)}
    results.update(reporting.vae_figures(trained, test_ds, x_test, y_test, a.iw_samples, a.iw_examples, a.seed,
                                         say=config.say))
    written = reporting.vae_images(trained.model, x_test, y_test, a.output_dir, a.seed)
    return _finish(a, trained.model, results, written, config)


def _train_autoencoder(a):
    from tfvae import data, reporting, training

    a.dataset = a.dataset or "mnist"
    info = data.dataset_info(a.dataset)
    config = _fit_config(a, a.kind, 100)
    model_args = _builder_args(a, "ae_")
    if "reconstruction" not in model_args:  # what the data are decides, so this default lives here
        model_args["reconstruction"] = "bernoulli" if info.binary else "squared_error"
    if a.conditional:
        if not info.num_classes:
            raise ValueError(f"{a.dataset!r} has no labels; received --conditional.")
        model_args["num_classes"] = info.num_classes
    x_test, _, test_ds = _test_data(a.dataset, a.conditional)
    shown = {"loss": "reconstruction"}
    if a.adversarial:
        shown.update(discriminator_loss="discriminator", generator_loss="generator",
                     mmd="MMD^2 to p(z|y)" if a.conditional else "MMD^2 to N(0, I)")
    config = dataclasses.replace(config, callbacks=(_epoch_report(config.epochs, shown, "", config),
                                                    *config.callbacks))
    trained = training.train_autoencoder(a.dataset, model_args, config, a.architecture, a.adversarial, test_ds)
    results = {"dataset": a.dataset, "architecture": a.architecture, "latent_dim": trained.model.latent_dim,
               "epochs": a.epochs, "train_seconds": round(trained.seconds, 1)}
    results.update(reporting.autoencoder_figures(trained, test_ds))
    written = reporting.autoencoder_images(trained.model, x_test, a.output_dir, a.seed)
    return _finish(a, trained.model, results, written, config)


def _train_vqvae(a):
    import numpy as np
    import tensorflow as tf

    from tfvae import data, generative, images, reporting, training
    from tfvae.models.vqvae import QUANTIZERS

    a.dataset = a.dataset or "mnist"
    info = data.dataset_info(a.dataset)
    if a.conditional and not info.num_classes:
        raise ValueError(f"{a.dataset!r} has no labels; received --conditional.")
    config = _fit_config(a, "vqvae", 128)
    x_test, y_test, _ = _test_data(a.dataset, a.conditional)
    test_ds = tf.data.Dataset.from_tensor_slices(x_test).batch(500)  # the VQ-VAE sees images only
    report = _epoch_report(config.epochs, {"reconstruction": "normalised MSE", "perplexity": "perplexity",
                                           "codebook_usage": "usage"}, "", config)
    vq_config = config.stage("vqvae", callbacks=(report, *config.callbacks))
    trained = training.train_vqvae(a.dataset, _model_args(a, "vq_"), vq_config, test_ds)
    vqvae = trained.model
    quantizer = {cls: name for name, cls in QUANTIZERS.items()}.get(type(vqvae.quantizer), "custom")
    results = {"dataset": a.dataset, "quantizer": quantizer, "epochs": a.epochs,
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

    from tfvae import data, reporting, training

    began = time.perf_counter()
    (tc, tl), (vc, vl) = training.encode_splits(vqvae, a.dataset, config.split, conditional)
    config.say(f"Encoded {len(tc):,} training and {len(vc):,} test images into {vqvae.grid_shape[0]}x"
               f"{vqvae.grid_shape[1]} code grids in {time.perf_counter() - began:.1f} s.")
    model_args = _model_args(a, "pixelcnn_")
    if conditional:
        model_args["num_classes"] = data.dataset_info(a.dataset).num_classes
    test_ds = tf.data.Dataset.from_tensor_slices((vc, vl) if conditional else vc).batch(config.batch_size)
    report = _epoch_report(config.epochs, {"loss": "nats/grid", "bits_per_code": "bits/code"}, "", config)
    config = dataclasses.replace(config, callbacks=(report, *config.callbacks))
    trained = training.train_prior(vqvae, tc, model_args, config, tl, test_ds)
    results = {"prior_epochs": config.epochs, "prior_train_seconds": round(trained.seconds, 1)}
    results.update(reporting.prior_figures(trained, test_ds))
    return trained.model, results


def _train_prior(a):
    from tfvae import reporting
    from tfvae.checkpoint import load_model

    vqvae = load_model(a.vqvae)
    a.dataset = a.dataset or "mnist"
    prior, results = _fit_prior(a, vqvae, _fit_config(a, "prior", 128), a.conditional)
    os.makedirs(a.output_dir, exist_ok=True)
    prior.save(os.path.join(a.output_dir, "prior.keras"))
    reporting.write_results(a.output_dir, results)
    return results


def _finish(a, model, results, written, config, prior=None):
    """Saves model.keras, exports (unless --no-export) and writes results.json."""
    from tfvae import reporting

    model.save(os.path.join(a.output_dir, "model.keras"))
    if a.export:
        results.update(reporting.export_model(model, a.output_dir, prior=prior, say=config.say))
    reporting.write_results(a.output_dir, results)
    config.say(f"Wrote {', '.join([*written, 'model.keras'])} and results.json to {a.output_dir}")
    return results


def _epoch_report(epochs, metrics, unit, config):
    from tfvae.callbacks import EpochReport

    return EpochReport(epochs, metrics, unit=unit, printer=config.say)


def _evaluate(a):
    import numpy as np

    from tfvae import data, generative
    from tfvae.checkpoint import load_model
    from tfvae.metrics import bits_per_dim

    model = load_model(a.model)
    conditional = getattr(model, "num_classes", None) is not None
    arrays = data.load_arrays(a.dataset, a.split, with_labels=conditional, limit=a.examples)
    x, y = arrays if conditional else (arrays, None)
    if a.binarize:
        x = (np.random.default_rng(0).random(x.shape) < x).astype(np.float32)
    results = {"model": a.model, "dataset": a.dataset, "split": a.split, "examples": len(x)}
    inputs = x
    if model.value_bounds is None:  # a model of code grids: it is evaluated on a VQ-VAE's codes of the images
        if not a.vqvae:
            raise ValueError(f"{a.model} models code grids; evaluating it needs --vqvae, the VQ-VAE whose codes "
                             "it models.")
        inputs = generative.encode_dataset(load_model(a.vqvae), x)
    # The model's own metrics, named as in its training logs.
    results.update(model.evaluate(*((inputs, y) if conditional else (inputs,)), batch_size=500, verbose=0,
                                  return_dict=True))
    if model.value_bounds is None:
        results["nats_per_code"] = results["loss"] / math.prod(model.grid_shape)
    if callable(getattr(model, "log_likelihood", None)):
        if a.iw_samples != 0:
            args = {} if a.iw_samples is None else {"num_samples": a.iw_samples}
            results["nll"] = float(-model.log_likelihood(x, y, seed=0, **args).mean())
        try:
            results["bits_per_dim"] = float(bits_per_dim(results.get("nll", results["loss"]), x, model.likelihood))
        except ValueError as e:
            print(f"tfvae evaluate: no bits/dim: {e}", file=sys.stderr)
    if a.prior:
        from tfvae import reporting

        prior = load_model(a.prior)
        bound = reporting.two_stage_figures(model, prior, x, y, data.load_arrays(a.dataset, "train", limit=10_000))
        results.update(prior_nats_per_code=bound["test_prior_nats"] / math.prod(model.grid_shape),
                       nll_bound_bits_per_dim=bound["test_nll_bound_bits_per_dim"])
    return results


def _sample(a):
    import numpy as np

    from tfvae import generative, images
    from tfvae.checkpoint import load_model

    labels = None
    if a.labels:
        labels = np.resize(np.asarray(a.labels, np.int32), a.num_samples)
    if os.path.isdir(a.model):
        from tfvae.export import load_saved_model

        loaded = load_saved_model(a.model)
        signatures = loaded.signatures
        if "sample" not in signatures:
            raise ValueError(f"{a.model} has no 'sample' signature; it has {sorted(signatures)}.")
        inputs = {"seed": np.arange(a.seed, a.seed + a.num_samples, dtype=np.int64)}
        if labels is not None:
            inputs["label"] = labels
        out = signatures["sample"](**inputs)["images"].numpy()
        value_range = _saved_value_range(loaded, a.model)
    else:
        model = load_model(a.model)
        value_range = getattr(model, "value_bounds", None)  # what image models have
        if value_range is None:
            raise ValueError(f"{a.model} holds a {type(model).__name__}; sample takes a VAE or VQ-VAE.")
        if callable(getattr(model, "sample", None)):  # a VAE or an adversarial autoencoder samples its own prior
            out = model.sample(a.num_samples, labels=labels, seed=a.seed).numpy()
        elif not a.prior:
            raise ValueError(f"a {type(model).__name__} has no prior of its own to sample: sampling a VQ-VAE needs "
                             "--prior, the PixelCNN prior of its codes; a plain autoencoder cannot generate images "
                             "(the adversarial autoencoder can).")
        else:
            out = generative.sample_images(model, load_model(a.prior), a.num_samples, seed=a.seed,
                                           temperature=a.temperature, labels=labels)[0].numpy()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    shape = images.save_png(a.out, out, columns=a.columns, value_range=value_range)
    return {"out": a.out, "num_samples": a.num_samples, "png_shape": list(shape)}


def _saved_value_range(loaded, path):
    """The value range a SavedModel was exported with (tfvae.export writes it beside the signatures)."""
    if not hasattr(loaded, "value_range"):
        raise ValueError(f"{path} records no value range (it was exported before tfvae recorded one): re-export "
                         "it with `tfvae export`, or sample from its .keras file.")
    low, high = (float(v) for v in loaded.value_range[0].numpy())
    return low, high


def _export(a):
    from tfvae import data, export
    from tfvae.checkpoint import load_model

    if not (a.saved_model or a.tflite):
        raise ValueError("export needs --saved-model DIR and/or --tflite FILE.")
    model = load_model(a.model)
    prior = load_model(a.prior) if a.prior else None
    results = {}
    if a.saved_model:
        results["saved_model"] = export.export_saved_model(model, a.saved_model, a.version, prior=prior,
                                                           overwrite=a.overwrite)
    if a.tflite:
        representative = None
        if a.quantization == "int8":
            if not a.dataset:
                raise ValueError("--quantization int8 needs --dataset to calibrate on.")
            representative = _representative(model, data.load_arrays(a.dataset, "train", limit=256), a.signature)
        results["tflite"] = a.tflite
        results["tflite_bytes"] = export.export_tflite(model, a.tflite, a.signature, a.quantization,
                                                       representative, prior=prior)
    return results


def _representative(model, images, signature):
    """Calibration inputs of a signature, from training images."""
    if signature == "decode":
        # What decode takes is what encode gives: codes, or a VAE's (mean, log_var) of which the mean.
        encoded = model.encode(images)
        return (encoded[0] if isinstance(encoded, tuple) else encoded).numpy()
    return images


def main(argv=None):
    args = _parser().parse_args(argv)
    commands = {"train": _train, "evaluate": _evaluate, "sample": _sample, "export": _export}
    try:
        results = commands[args.command](args)
    except (ValueError, FileExistsError, RuntimeError, FloatingPointError) as e:
        # Errors users can act on: one line, no traceback.
        print(f"tfvae {args.command}: error: {e}", file=sys.stderr)
        return 2
    if args.command == "evaluate" and args.json:
        print(json.dumps(results, indent=2))
    elif args.command != "train":
        for key, value in results.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
