"""The `tfvae` command line: train, evaluate, sample, export.

    tfvae train vae --dataset binarized_mnist --epochs 10 --output-dir runs/vae
    tfvae train vqvae --epochs 4 --prior-epochs 4 --output-dir runs/vqvae   # VQ-VAE and its prior
    tfvae train prior --vqvae runs/vqvae/model.keras --epochs 10 --output-dir runs/prior
    tfvae evaluate runs/vae/model.keras --iw-samples 1000
    tfvae sample runs/vqvae/model.keras --prior runs/vqvae/prior.keras -n 64 --out samples.png
    tfvae export runs/vae/model.keras --saved-model serving/vae --tflite vae_decode.tflite

Training writes a checkpoint every epoch to OUTPUT_DIR/checkpoints; `--resume`
continues from the last one. It shares its code with examples/ (tfvae.training).
"""

import argparse
import json
import math
import os
import sys

__all__ = ["main"]


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
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        _add_common_train(p, 10)
        p.add_argument("--architecture", default="mlp", choices=["mlp", "conv"], help="network family")
        p.add_argument("--latent-dim", type=POSITIVE_INT, default=20, help="latent dimensions")
        p.add_argument("--hidden-units", type=POSITIVE_INT, nargs="+", default=[500], help="hidden layer widths")
        p.add_argument("--likelihood", choices=["bernoulli", "discretized_gaussian", "gaussian"],
                       help="default: bernoulli for binary data, discretized_gaussian for 8-bit grey levels")
        p.add_argument("--binarize", choices=["dynamic"], help="fresh Bernoulli binarisation each epoch")
        p.add_argument("--beta", type=_number(float, 0), default=1.0, help="KL weight")
        p.add_argument("--kl-warmup-steps", type=COUNT, default=0, help="linear KL warm-up steps")
        p.add_argument("--iw-samples", type=COUNT, default=100, help="k of the importance-weighted test NLL (0 skips)")
        p.add_argument("--iw-examples", type=POSITIVE_INT, default=1000, help="test images for the NLL")
        p.set_defaults(conditional=conditional)
    p = kinds.add_parser("vqvae", help="VQ-VAE, then its PixelCNN prior (--prior-epochs 0: VQ-VAE only)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_common_train(p, 4)
    _add_vq_args(p)
    _add_prior_args(p, default_epochs=4)
    p.add_argument("--conditional", action="store_true", help="condition the prior on labels")
    p.add_argument("--num-samples", type=POSITIVE_INT, default=100, help="images in samples.png")
    p = kinds.add_parser("prior", help="PixelCNN prior for a trained VQ-VAE",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _add_common_train(p, 10)
    p.add_argument("--vqvae", required=True, help="the trained VQ-VAE (.keras)")
    p.add_argument("--conditional", action="store_true", help="condition the prior on labels")
    _add_prior_args(p, default_epochs=None)

    p = sub.add_parser("evaluate", help="test figures of a saved model",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description="VAE: test -ELBO, importance-weighted NLL, bits/dim. VQ-VAE: normalised MSE, "
                                   "perplexity, codebook usage (and with --prior: prior nats/code, NLL bound). "
                                   "Prior (with --vqvae): nats and bits per code.")
    p.add_argument("model", help="a .keras file written by tfvae")
    p.add_argument("--dataset", required=True, help="data set to evaluate on")
    p.add_argument("--split", default="test", help="split")
    p.add_argument("--prior", help="VQ-VAE: its prior (.keras)")
    p.add_argument("--vqvae", help="prior: its VQ-VAE (.keras)")
    p.add_argument("--iw-samples", type=COUNT, default=1000, help="VAE: k of the importance-weighted NLL")
    p.add_argument("--examples", type=POSITIVE_INT, help="evaluate the first N examples only")
    p.add_argument("--binarize", choices=["dynamic"], help="binarise grey levels once (VAE on mnist)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")

    p = sub.add_parser("sample", help="a PNG grid of new images from a saved model",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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


def _add_vq_args(p):
    p.add_argument("--quantizer", default="vq", choices=["vq", "ema"], help="codebook by gradient or EMA")
    p.add_argument("--num-embeddings", type=_number(int, 2), default=128, help="codebook size")
    p.add_argument("--embedding-dim", type=POSITIVE_INT, default=16, help="code size")
    p.add_argument("--hidden-filters", type=POSITIVE_INT, default=64, help="conv width")
    p.add_argument("--residual-filters", type=POSITIVE_INT, default=32, help="residual block width")
    p.add_argument("--downsamplings", type=POSITIVE_INT, default=2, help="stride-2 steps")
    p.add_argument("--residual-blocks", type=COUNT, default=1, help="residual blocks per network")
    p.add_argument("--commitment-cost", type=_number(float, 0), default=0.25, help="beta")
    p.add_argument("--decay", type=_number(float, 0, 1, high_open=True), default=0.99, help="EMA decay")
    p.add_argument("--dead-code-steps", type=POSITIVE_INT, help="restart codes unused this many steps")


def _add_prior_args(p, default_epochs):
    p.add_argument("--prior-filters", type=POSITIVE_INT, default=64, help="prior channels")
    p.add_argument("--prior-layers", type=POSITIVE_INT, default=6, help="gated blocks")
    p.add_argument("--prior-kernel-size", type=_number(int, 1, odd=True), default=3, help="kernel width (odd)")
    if default_epochs is not None:
        p.add_argument("--prior-epochs", type=COUNT, default=default_epochs, help="prior epochs")


def _callbacks(a, kind, say):
    from tfvae import callbacks, data

    out = []
    logs = os.path.join(a.output_dir, "logs") if a.tensorboard else None
    if logs:
        import keras

        out.append(keras.callbacks.TensorBoard(logs))
    if a.image_every and kind in ("vae", "cvae", "vqvae"):
        test = data.load_arrays(a.dataset, "test", with_labels=kind == "cvae", limit=16)
        images, labels = test if kind == "cvae" else (test, None)
        out.append(callbacks.ImageGridWriter(os.path.join(a.output_dir, "images"), images, labels,
                                             num_samples=0 if kind == "vqvae" else 64,
                                             every_n_epochs=a.image_every, log_dir=logs))
        if kind != "vqvae":
            out.append(callbacks.LatentTraversal(os.path.join(a.output_dir, "images"), images[0],
                                                 None if labels is None else int(labels[0]),
                                                 every_n_epochs=a.image_every))
    if kind == "vqvae":
        out.append(callbacks.CodebookMonitor(logs, printer=say if a.verbose else None))
    return out


def _train(a):
    from tfvae import training

    say = print if a.verbose else (lambda *x, **k: None)
    if a.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    checkpoints = os.path.join(a.output_dir, "checkpoints")
    common = dict(epochs=a.epochs, learning_rate=a.learning_rate, train_examples=a.train_examples, seed=a.seed,
                  verbose=a.verbose)
    if a.kind in ("vae", "cvae"):
        a.dataset = a.dataset or ("mnist" if a.conditional else "binarized_mnist")
        _, results = training.train_vae(
            dataset=a.dataset, architecture=a.architecture, latent_dim=a.latent_dim,
            hidden_units=tuple(a.hidden_units), likelihood=a.likelihood, conditional=a.conditional,
            binarize=a.binarize, batch_size=a.batch_size or 100, beta=a.beta, kl_warmup_steps=a.kl_warmup_steps,
            iw_samples=a.iw_samples, iw_examples=a.iw_examples, output_dir=a.output_dir, export=a.export,
            checkpoint_dir=checkpoints, resume=a.resume, callbacks=_callbacks(a, a.kind, say), **common,
        )
    elif a.kind == "vqvae":
        a.dataset = a.dataset or "mnist"
        vq = dict(quantizer=a.quantizer, num_embeddings=a.num_embeddings, embedding_dim=a.embedding_dim,
                  hidden_filters=a.hidden_filters, residual_filters=a.residual_filters,
                  num_downsamplings=a.downsamplings, num_residual_blocks=a.residual_blocks,
                  commitment_cost=a.commitment_cost, decay=a.decay, dead_code_steps=a.dead_code_steps,
                  batch_size=a.batch_size or 128, **common)
        if a.prior_epochs == 0:
            vq.pop("verbose"), vq.pop("seed")
            _, results = training.train_vqvae(dataset=a.dataset, output_dir=a.output_dir, seed=a.seed,
                                              verbose=a.verbose, checkpoint_dir=os.path.join(checkpoints, "vqvae"),
                                              resume=a.resume, callbacks=_callbacks(a, "vqvae", say), **vq)
        else:
            prior = dict(filters=a.prior_filters, num_layers=a.prior_layers, kernel_size=a.prior_kernel_size,
                         epochs=a.prior_epochs, batch_size=a.batch_size or 128, learning_rate=a.learning_rate)
            for key in ("seed", "verbose"):
                vq.pop(key)
            vq["callbacks"] = _callbacks(a, "vqvae", say)
            _, _, results = training.train_vqvae_with_prior(
                dataset=a.dataset, conditional=a.conditional, vqvae_args=vq, prior_args=prior,
                num_samples=a.num_samples, output_dir=a.output_dir, seed=a.seed, verbose=a.verbose,
                export=a.export, checkpoint_dir=checkpoints, resume=a.resume,
            )
    else:
        results = _train_prior(a, checkpoints)
    return results


def _train_prior(a, checkpoints):
    from tfvae import data, training
    from tfvae.checkpoint import load_model

    vqvae = load_model(a.vqvae)
    a.dataset = a.dataset or "mnist"
    (tc, tl), (vc, vl) = training.encode_splits(vqvae, a.dataset, training.train_split(a.train_examples), a.conditional)
    prior, results = training.train_prior(
        vqvae, tc, vc, tl, vl, num_classes=data.dataset_info(a.dataset).num_classes if a.conditional else None,
        filters=a.prior_filters, num_layers=a.prior_layers, kernel_size=a.prior_kernel_size, epochs=a.epochs,
        batch_size=a.batch_size or 128, learning_rate=a.learning_rate, seed=a.seed, verbose=a.verbose,
        checkpoint_dir=checkpoints, resume=a.resume,
    )
    os.makedirs(a.output_dir, exist_ok=True)
    prior.save(os.path.join(a.output_dir, "prior.keras"))
    return results


def _evaluate(a):
    import numpy as np

    from tfvae import data, generative
    from tfvae.checkpoint import load_model
    from tfvae.metrics import bits_per_dim
    from tfvae.models import VAE, VQVAE, ConditionalVAE, PixelCNNPrior

    model = load_model(a.model)
    conditional = isinstance(model, ConditionalVAE) or (isinstance(model, PixelCNNPrior) and model.num_classes)
    arrays = data.load_arrays(a.dataset, a.split, with_labels=bool(conditional), limit=a.examples)
    x, y = arrays if conditional else (arrays, None)
    if a.binarize:
        x = (np.random.default_rng(0).random(x.shape) < x).astype(np.float32)
    results = {"model": a.model, "dataset": a.dataset, "split": a.split, "examples": len(x)}
    if isinstance(model, VAE):
        ds = (x, y) if conditional else (x,)
        r = model.evaluate(*ds, batch_size=500, verbose=0, return_dict=True)
        results.update(nelbo=r["loss"], reconstruction=r["reconstruction"], kl=r["kl"])
        if a.iw_samples:
            nll = float(-model.log_likelihood(x, y, num_samples=a.iw_samples, seed=0).mean())
            results.update(nll=nll, iw_samples=a.iw_samples)
        try:
            results["bits_per_dim"] = float(bits_per_dim(results.get("nll", results["nelbo"]), x, model.likelihood))
        except ValueError as e:
            print(f"tfvae evaluate: no bits/dim: {e}", file=sys.stderr)
    elif isinstance(model, VQVAE):
        r = model.evaluate(x, batch_size=500, verbose=0, return_dict=True)
        results.update(normalised_mse=r["reconstruction"], mse=r["reconstruction"] * model.data_variance,
                       perplexity=r["perplexity"], codebook_usage=r["codebook_usage"], vq_loss=r["vq_loss"])
        if a.prior:
            prior = load_model(a.prior)
            scale = generative.observation_scale(model, data.load_arrays(a.dataset, "train", limit=10_000))
            bound = generative.nll_bound(model, prior, x, y, observation_scale=scale)
            results.update(prior_nats_per_code=float(bound["prior_nats"].mean()) / math.prod(model.grid_shape),
                           nll_bound_bits_per_dim=float(bound["bits_per_dim"].mean()))
    elif isinstance(model, PixelCNNPrior):
        if not a.vqvae:
            raise ValueError("evaluating a prior needs --vqvae, the VQ-VAE whose codes it models.")
        vqvae = load_model(a.vqvae)
        codes = generative.encode_dataset(vqvae, x)
        r = model.evaluate(*((codes, y) if conditional else (codes,)), batch_size=256, verbose=0, return_dict=True)
        results.update(nats_per_code=r["loss"] / math.prod(model.grid_shape), bits_per_code=r["bits_per_code"])
    else:
        raise ValueError(f"{a.model} holds a {type(model).__name__}, not a tfvae model.")
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
        if callable(getattr(model, "sample", None)):  # a VAE samples its own prior
            out = model.sample(a.num_samples, labels=labels, seed=a.seed).numpy()
        elif not a.prior:
            raise ValueError("sampling a VQ-VAE needs --prior, the PixelCNN prior of its codes.")
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
        if hasattr(model, "grid_shape"):
            return model.encode(images).numpy()
        return model.encode(images)[0].numpy()
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
