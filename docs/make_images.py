"""Makes the pictures of README.md and the guides from the examples, as a user would run them.

    python docs/make_images.py            # the main job and the 2-D VAE: about 10 minutes on 2 CPU cores
    python docs/make_images.py --smoke --out /tmp/images   # seconds: checks the script (tests/test_docs.py)

It runs `examples/train_vqvae.py` (samples of the prior, reconstructions) and
`examples/train_vae.py --latent-dim 2` (the latent manifold) into a temporary
folder and copies their PNG files into `--out` (default: docs/images), each
written to a temporary name first and renamed into place.
"""

import argparse
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


if __name__ == "__main__":
    main()
