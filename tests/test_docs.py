"""The documentation cannot drift from the code: every Python block of README.md and docs/*.md runs, the site
builds with warnings as errors, its API reference covers every public name, and the picture script works.

The blocks are read at test time and run as written, except that Keras' own debugging variables
KERAS_MAX_EPOCHS=1 and KERAS_MAX_STEPS_PER_EPOCH=2 shorten every `fit`. The two-host
MultiWorkerMirroredStrategy block runs as two processes on this machine, with the hosts replaced by local ports.
"""

import importlib
import os
import re
import socket
import subprocess
import sys
import zlib

import pytest

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data

SHORT_FIT = {"KERAS_MAX_EPOCHS": "1", "KERAS_MAX_STEPS_PER_EPOCH": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
# Each page's Python blocks, as this test runs them; a block added anywhere must be added here.
BLOCKS = {"README.md": 2, "docs/models.md": 1, "docs/deployment.md": 1, "docs/distributed.md": 2,
          "docs/sampling.md": 1}


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S)


def run(code, cwd, extra_env=None):
    env = {**os.environ, **SHORT_FIT, **(extra_env or {}),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"STDOUT:\n{out[-2000:]}\nSTDERR:\n{err[-4000:]}"
    return out


def test_every_python_block_is_one_this_test_runs():
    pages = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
    found = {page: len(python_blocks(page)) for page in pages if python_blocks(page)}
    assert found == BLOCKS
    assert "AdversarialAutoencoder" in python_blocks("docs/models.md")[0]
    assert "export_saved_model" in python_blocks("docs/deployment.md")[0]
    assert "MultiWorkerMirroredStrategy" in python_blocks("docs/distributed.md")[1]
    assert "MultiWorkerMirroredStrategy" not in python_blocks("docs/distributed.md")[0]
    assert "evaluate_samples" in python_blocks("docs/sampling.md")[0]


def test_every_single_process_block_runs(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    real_data(data.load, "binarized_mnist", "test", 10)
    # The quick start is one session; the export and autoencoder blocks continue it (they use its models).
    session = [*python_blocks("README.md"), python_blocks("docs/deployment.md")[0],
               python_blocks("docs/models.md")[0]]
    finish(run("\n".join(session), tmp_path))
    assert (tmp_path / "vae.keras").is_file() and (tmp_path / "serving" / "vqvae" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "decode.tflite").stat().st_size > 0
    finish(run(python_blocks("docs/distributed.md")[0], tmp_path))
    # The sample-quality block trains an extractor: into this test's folder, not the user's cache.
    out = finish(run(python_blocks("docs/sampling.md")[0], tmp_path, {"TFVAE_CACHE_DIR": str(tmp_path / "cache")}))
    assert "tfvae-classifier, trained on mnist" in out


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_the_multi_worker_block_runs_as_two_workers(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    block = python_blocks("docs/distributed.md")[1]
    hosts = re.findall(r'"(host\d:\d+)"', block)
    assert hosts == ["host1:12345", "host2:12345"] and '"index": 0' in block
    for host in hosts:
        block = block.replace(host, f"localhost:{_free_port()}")
    workers = [run(block.replace('"index": 0', f'"index": {i}'), tmp_path) for i in range(2)]
    for worker in workers:
        finish(worker)


def _inventory(site):
    """The object names of a built site's `objects.inv` (Sphinx's format, which mkdocstrings writes)."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    return {line.split(" ")[0] for line in zlib.decompress(raw[header_end:]).decode().splitlines()}


def _resolve(dotted):
    """The object a documented dotted name refers to, or None."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _public_objects():
    import tfvae

    modules = [tfvae, *(getattr(tfvae, n) for n in tfvae.__all__ if type(getattr(tfvae, n)) is type(tfvae))]
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if type(obj) is not type(tfvae):
                yield f"{module.__name__}.{name}", obj


def test_the_site_builds_strictly_and_documents_every_public_name(tmp_path):
    if not os.environ.get("CI"):
        pytest.importorskip("mkdocs", reason='the documentation tools: pip install -e ".[docs]"')
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    documented = [_resolve(name) for name in _inventory(tmp_path / "site")]
    missing = [name for name, obj in _public_objects() if not any(d is obj for d in documented)]
    assert not missing, f"public names without a page in the API reference: {missing}"
    home = (tmp_path / "site" / "index.html").read_text()
    assert "images/samples.png" in home and "Quick start" in home  # the README is the home page


def test_the_picture_script_runs(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    subprocess.run([sys.executable, str(ROOT / "docs" / "make_images.py"), "--smoke", "--out", str(tmp_path)],
                   check=True, cwd=tmp_path, capture_output=True, timeout=900)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["samples.png", "reconstructions.png", "codes.png", "vae_manifold.png", "vae_samples.png",
         "codebook_usage.png"])
    png = (tmp_path / "codebook_usage.png").read_bytes()
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and width > 300 and height > 100
