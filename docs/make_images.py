"""Makes the pictures of README.md and the guides from the examples, as a user would run them.

    python docs/make_images.py            # the main job and the 2-D VAE: about 10 minutes on 2 CPU cores
    python docs/make_images.py --smoke --out /tmp/images   # seconds: checks the script (tests/test_docs.py)

It runs `examples/train_vqvae.py` (samples of the prior, reconstructions, and
a chart of codebook usage per epoch from its `training_log.csv`, drawn with
matplotlib from the `docs` extra) and
`examples/train_vae.py --latent-dim 2` (the latent manifold) into a temporary
folder and copies their PNG files into `--out` (default: docs/images), each
written to a temporary name first and renamed into place.
"""

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PICTURES = [
    # (example and its arguments, file it writes, name under --out)
    (["examples/train_vqvae.py"], "samples.png", "samples.png"),
    (["examples/train_vqvae.py"], "reconstructions.png", "reconstructions.png"),
    (["examples/train_vqvae.py"], "codes.png", "codes.png"),
    (["examples/train_vae.py", "--latent-dim", "2"], "manifold.png", "vae_manifold.png"),
    (["examples/train_vae.py", "--latent-dim", "2"], "samples.png", "vae_samples.png"),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    p.add_argument("--smoke", action="store_true", help="the examples' seconds-long runs")
    a = p.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        runs = {}
        for command, written, name in PICTURES:
            key = tuple(command)
            if key not in runs:
                runs[key] = os.path.join(work, str(len(runs)))
                args = [sys.executable, os.path.join(ROOT, command[0]), *command[1:], "--output-dir", runs[key]]
                print("$", " ".join(args[1:]), flush=True)
                subprocess.run(args + (["--smoke"] if a.smoke else []), check=True, cwd=ROOT)
            partial = os.path.join(a.out, f".{name}.partial")
            shutil.copyfile(os.path.join(runs[key], written), partial)
            os.replace(partial, os.path.join(a.out, name))
            print("wrote", os.path.join(a.out, name), flush=True)
        log = os.path.join(runs[("examples/train_vqvae.py",)], "training_log.csv")
        plot_codebook_usage(log, os.path.join(a.out, "codebook_usage.png"))
        print("wrote", os.path.join(a.out, "codebook_usage.png"), flush=True)


def plot_codebook_usage(log, path):
    """Codebook usage and perplexity per epoch, training and test, from the main job's CSVLogger file."""
    import csv

    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    with open(log) as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    figure, axes = plt.subplots(1, 2, figsize=(7, 2.6), dpi=100)
    for ax, metric, title in ((axes[0], "codebook_usage", "codebook usage (share of the 128 codes)"),
                              (axes[1], "perplexity", "perplexity (effective number of codes)")):
        ax.plot(epochs, [float(r[metric]) for r in rows], "o-", label="training epoch")
        ax.plot(epochs, [float(r["val_" + metric]) for r in rows], "s--", label="test images")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_xticks(epochs)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylim(0, None)
    axes[0].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    from tfvae._io import write_atomically

    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    write_atomically(path, png.getvalue())


if __name__ == "__main__":
    main()
