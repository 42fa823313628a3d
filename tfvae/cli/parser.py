"""The `tfvae` command line's parser: commands, flags and the checks of their values."""

import argparse
import math
import os


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


def _add_source_args(p, required=False, purpose=None):
    """--dataset and how to read it (tfvae.data.DataSource)."""
    p.add_argument("--dataset", required=required,
                   help=(f"{purpose}: " if purpose else "") +
                        "a data set name (tfvae.data.DATASETS or any TFDS image data set), a folder of images "
                        "(class sub-folders give labels) or a .npy/.npz file")
    p.add_argument("--image-size", type=POSITIVE_INT, nargs="+", metavar="SIZE",
                   help="resize images to SIZE x SIZE or H W (centre crop to the aspect ratio; 8-bit data stay on "
                        "their 256 levels)")
    p.add_argument("--channels", type=int, choices=[1, 3], help="convert images to 1 (grey) or 3 (RGB) channels")


def source_args(a):
    """The DataSource options of --image-size and --channels."""
    size = getattr(a, "image_size", None)
    if size is not None and len(size) not in (1, 2):
        raise ValueError(f"--image-size takes SIZE or H W; received {len(size)} numbers.")
    return {"image_size": None if size is None else tuple(size) * (2 // len(size)),
            "channels": getattr(a, "channels", None)}


def _add_common_train(p, default_epochs):
    _add_source_args(p)
    p.add_argument(
        "--epochs", type=POSITIVE_INT, default=default_epochs, help=f"training epochs (default: {default_epochs})"
    )
    p.add_argument("--batch-size", type=POSITIVE_INT, help="batch size (default: 100 for VAEs, 128 for VQ models)")
    p.add_argument("--learning-rate", type=POSITIVE, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--train-examples", type=POSITIVE_INT, help="train on the first N training examples only")
    p.add_argument("--test-examples", type=POSITIVE_INT, help="test figures on the first N test examples only")
    p.add_argument(
        "--output-dir", type=_folder, required=True, help="where the model, figures, results and checkpoints go"
    )
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


def build_parser():
    parser = _Parser(prog="tfvae", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model", description="Train a model; see `tfvae train KIND --help`.")
    kinds = train.add_subparsers(dest="kind", required=True)
    for kind, conditional in (("vae", False), ("cvae", True)):
        p = kinds.add_parser(kind, help=("conditional " if conditional else "") + "Gaussian VAE (AEVB)",
                             formatter_class=_Help)
        _add_common_train(p, 10)
        p.add_argument("--architecture", default="mlp", choices=["mlp", "conv", "resnet"],
                       help="network family (resnet: VAE.resnet, a spatial latent, for colour images)")
        p.add_argument("--latent-dim", type=POSITIVE_INT, default=20, dest="vae_latent_dim", metavar="LATENT_DIM",
                       help="latent dimensions (mlp, conv)")
        _add_resnet_args(p, "VAE.resnet", "vae_", latent_channels=True)
        p.add_argument("--hidden-units", type=POSITIVE_INT, nargs="+", dest="vae_hidden_units", metavar="UNITS",
                       help="hidden layer widths (conv: the dense layer's; default: VAE.mlp's / VAE.conv's)")
        p.add_argument("--likelihood", choices=["bernoulli", "discretized_gaussian", "gaussian",
                                                "discretized_logistic_mixture"],
                       dest="vae_likelihood",
                       help="default: bernoulli for binary data, discretized_gaussian for 8-bit grey levels")
        p.add_argument("--binarize", choices=["dynamic"], help="fresh Bernoulli binarisation each epoch")
        p.add_argument("--beta", type=_number(float, 0), dest="vae_beta", metavar="BETA",
                       help="KL weight (default: VAE's)")
        p.add_argument("--kl-warmup-steps", type=COUNT, dest="vae_kl_warmup_steps", metavar="STEPS",
                       help="linear KL warm-up steps (default: VAE's)")
        if not conditional:
            _model_flag(p, "VAE", "--prior", "vae_prior", "N(0, I), a learned mixture of Gaussians or the VampPrior",
                        choices=["standard", "mixture", "vamp"])
            _model_flag(p, "VAE", "--prior-components", "vae_num_prior_components",
                        "mixture or vamp: components (pseudo-inputs)",
                        type=POSITIVE_INT)
        _model_flag(p, "VAE", "--posterior-flow", "vae_posterior_flow", "steps of an inverse autoregressive flow "
                    "after the encoder's Gaussian (0: none)", type=COUNT)
        _model_flag(p, "VAE", "--posterior-flow-units", "vae_posterior_flow_units", "widths of each flow step's MADE",
                    type=POSITIVE_INT, nargs="+")
        if not conditional:
            _model_flag(p, "VAE", "--second-latent-dim", "vae_second_latent_dim",
                        "a second stochastic layer of this size (the IWAE paper's two-layer VAE)", type=POSITIVE_INT)
            _model_flag(p, "VAE", "--second-hidden-units", "vae_second_hidden_units",
                        "widths of the second layer's MLPs", type=POSITIVE_INT, nargs="+")
        _model_flag(p, "VAE", "--importance-samples", "vae_num_importance_samples",
                    "k of the training objective: 1 the ELBO, k > 1 the IWAE bound", type=POSITIVE_INT)
        _model_flag(p, "VAE", "--gradient-estimator", "vae_gradient_estimator",
                    "the encoder's gradient of the bound: iwae or dreg (doubly reparameterised)",
                    choices=["iwae", "dreg"])
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
        owner = "AdversarialAutoencoder" if adversarial else "Autoencoder"
        if adversarial:  # its prior and discriminator act on a code vector: no spatial code
            p.add_argument("--architecture", default="mlp", choices=["mlp", "conv"], help="network family")
        else:
            p.add_argument("--architecture", default="mlp", choices=["mlp", "conv", "resnet"],
                           help="network family (resnet: Autoencoder.resnet, a spatial code, for colour images)")
        p.add_argument("--latent-dim", type=POSITIVE_INT, default=8, dest="ae_latent_dim", metavar="LATENT_DIM",
                       help="code size (mlp, conv)")
        if not adversarial:
            _add_resnet_args(p, "Autoencoder.resnet", "ae_", latent_channels=True)
        _model_flag(p, f"{owner}.mlp / .conv", "--hidden-units", "ae_hidden_units",
                    "hidden layer widths (conv: the dense layer's)", type=POSITIVE_INT, nargs="+")
        _model_flag(p, f"{owner}.mlp / .conv", "--dropout", "ae_dropout", "dropout rate after hidden layers",
                    type=_number(float, 0, 1, high_open=True))
        _model_flag(p, owner, "--noise-stddev", "ae_noise_stddev", "training corruption N(0, s^2) (denoising)",
                    type=_number(float, 0))
        p.add_argument("--likelihood", "--reconstruction", choices=["squared_error", "bernoulli"],
                       dest="ae_likelihood", help="reconstruction term (default: bernoulli for binary data, "
                                                  "squared_error otherwise; --reconstruction is tfvae 0.1's name)")
        if adversarial:
            _model_flag(p, f"{owner}.mlp / .conv", "--discriminator-units", "ae_discriminator_units",
                        "discriminator hidden layer widths", type=POSITIVE_INT, nargs="+")
            p.add_argument("--conditional", action="store_true",
                           help="class-conditional prior p(z|y): one Gaussian per class (needs labels)")
        p.set_defaults(adversarial=adversarial, **({} if adversarial else {"conditional": False}))
    p = kinds.add_parser("vqvae", help="VQ-VAE, then its PixelCNN prior (--prior-epochs 0: VQ-VAE only)",
                         formatter_class=_Help)
    _add_common_train(p, 4)
    p.add_argument("--architecture", default="conv", choices=["conv", "resnet"],
                   help="network family (conv: the paper's; resnet: VQVAE.resnet, for colour images)")
    _add_vq_args(p)
    _add_resnet_args(p, "VQVAE.resnet", "vq_", latent_channels=False)
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
    _add_source_args(p, required=True)
    p.add_argument("--split", default="test", help="split")
    p.add_argument("--prior", help="VQ-VAE: its prior (.keras)")
    p.add_argument("--vqvae", help="prior: its VQ-VAE (.keras)")
    p.add_argument("--iw-samples", type=COUNT, help="VAE: k of the importance-weighted NLL, 0 skips it "
                                                   "(default: VAE.log_likelihood's)")
    p.add_argument("--examples", type=POSITIVE_INT, help="evaluate the first N examples only")
    p.add_argument("--binarize", choices=["dynamic"], help="binarise grey levels once (VAE on mnist)")
    p.add_argument("--samples", type=POSITIVE_INT, metavar="N",
                   help="sample quality from N samples against N test images (Frechet distance, KID, precision, "
                        "recall, density, coverage; class accuracy of conditional samples), and the same figures "
                        "of N reconstructions; a VQ-VAE samples through --prior, a prior through --vqvae")
    p.add_argument("--extractor", help="with --samples: the FeatureExtractor (.keras) to compare features with "
                                       "(default: tfvae's classifier of the data set, trained once and cached)")
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
    _add_source_args(p, purpose="int8: the training images that calibrate the quantisation")
    return parser


# Model flags have no defaults of their own: a flag not given leaves the argument
# to the model's constructor (`model_args`), so each default is defined once.
def _model_flag(p, owner, flag, dest, help, **kwargs):
    if "choices" not in kwargs:
        kwargs["metavar"] = flag.lstrip("-").upper().replace("-", "_")  # not the prefixed dest
    p.add_argument(flag, dest=dest, help=f"{help} (default: {owner}'s)", **kwargs)


def _add_vq_args(p):
    both = "VQVAE.conv / .resnet"
    _model_flag(p, both, "--quantizer", "vq_quantizer", "codebook by gradient or EMA, FSQ, LFQ or residual VQ",
                choices=["vq", "ema", "fsq", "lfq", "rvq"])
    _model_flag(p, both, "--num-quantizers", "vq_num_quantizers", "rvq: levels", type=POSITIVE_INT)
    _model_flag(p, both, "--levels", "vq_levels", "fsq: levels per dimension (default: the FSQ paper's for "
                "--num-embeddings)", type=_number(int, 2), nargs="+")
    _model_flag(p, both, "--num-embeddings", "vq_num_embeddings", "codebook size", type=_number(int, 2))
    _model_flag(p, both, "--embedding-dim", "vq_embedding_dim", "code size", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--hidden-filters", "vq_hidden_filters", "conv: width", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--residual-filters", "vq_residual_filters", "conv: residual block width",
                type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--downsamplings", "vq_num_downsamplings", "conv: stride-2 steps", type=POSITIVE_INT)
    _model_flag(p, "VQVAE.conv", "--residual-blocks", "vq_num_residual_blocks", "conv: residual blocks per network",
                type=COUNT)
    _model_flag(p, both, "--commitment-cost", "vq_commitment_cost", "beta", type=_number(float, 0))
    _model_flag(p, both, "--decay", "vq_decay", "EMA decay", type=_number(float, 0, 1, high_open=True))
    _model_flag(p, both, "--dead-code-steps", "vq_dead_code_steps", "restart codes unused this many steps",
                type=POSITIVE_INT)


def _add_resnet_args(p, owner, prefix, latent_channels):
    """The `.resnet` builders' flags (`latent_channels` for the models with a continuous latent grid)."""
    flags = [("--downsample-factor", "a power of 2: the latent grid is H/f by W/f"),
             ("--base-filters", "width of the first level")]
    if latent_channels:
        flags.insert(0, ("--latent-channels", "channels of the latent grid"))
    for flag, what in flags:
        _model_flag(p, owner, flag, prefix + flag[2:].replace("-", "_"), f"resnet: {what}", type=POSITIVE_INT)


def _add_prior_args(p, default_epochs):
    _model_flag(p, "PixelCNNPrior", "--prior-filters", "pixelcnn_filters", "prior channels", type=POSITIVE_INT)
    _model_flag(p, "PixelCNNPrior", "--prior-layers", "pixelcnn_num_layers", "gated blocks", type=POSITIVE_INT)
    _model_flag(p, "PixelCNNPrior", "--prior-kernel-size", "pixelcnn_kernel_size", "kernel width (odd)",
                type=_number(int, 1, odd=True))
    if default_epochs is not None:
        p.add_argument("--prior-epochs", type=COUNT, default=default_epochs, help="prior epochs")


def model_args(a, prefix):
    """The model arguments given as flags `--...` with `dest=prefix + argument`; flags not given are left out."""
    return {k[len(prefix):]: v for k, v in vars(a).items() if k.startswith(prefix) and v is not None}


# Flags of the `.resnet` builders alone, and of the other builders alone.
RESNET_ONLY = ("latent_channels", "downsample_factor", "base_filters")
NOT_RESNET = ("hidden_units", "hidden_filters", "residual_filters", "num_downsamplings", "num_residual_blocks")
_FLAG_OF = {"num_downsamplings": "downsamplings", "num_residual_blocks": "residual-blocks"}


def builder_args(a, prefix):
    """`model_args` for the `.mlp` / `.conv` / `.resnet` builders: a conv VAE or autoencoder has one dense layer,
    of the first width; a resnet has a latent grid instead of a latent size."""
    args = model_args(a, prefix)
    if a.architecture == "resnet":
        args.pop("latent_dim", None)  # --latent-dim's default: the latent grid comes from the resnet flags
        wrong = [k for k in NOT_RESNET if k in args]
    else:
        wrong = [k for k in RESNET_ONLY if k in args]
    if wrong:
        flag = _FLAG_OF.get(wrong[0], wrong[0].replace("_", "-"))
        raise ValueError(f"--{flag} does not go with --architecture {a.architecture}.")
    if a.architecture == "conv" and "hidden_units" in args:
        args["hidden_units"] = args["hidden_units"][0]
    return args
