"""Every Python code block of README.md runs, so the README cannot drift from the API.

The blocks are read from README.md at test time and run as written, except that
Keras' own debugging variables KERAS_MAX_EPOCHS=1 and KERAS_MAX_STEPS_PER_EPOCH=2
shorten every `fit` (README, "Testing"). The two-host MultiWorkerMirroredStrategy
block runs as two processes on this machine, with the hosts replaced by local ports.
"""

import os
import re
import socket
import subprocess
import sys

from tests.conftest import ROOT
from tests.helpers import real_data
from tfvae import data

SHORT_FIT = {"KERAS_MAX_EPOCHS": "1", "KERAS_MAX_STEPS_PER_EPOCH": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}


def python_blocks():
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def run(code, cwd, extra_env=None, timeout=600):
    env = {**os.environ, **SHORT_FIT, **(extra_env or {}),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"STDOUT:\n{out[-2000:]}\nSTDERR:\n{err[-4000:]}"
    return out


def test_the_readme_has_the_blocks_this_test_knows():
    blocks = python_blocks()
    assert len(blocks) == 7
    assert "AdversarialAutoencoder" in blocks[3]
    assert "MultiWorkerMirroredStrategy" in blocks[5] and "MultiWorkerMirroredStrategy" not in "".join(blocks[:5])
    assert "evaluate_samples" in blocks[6]


def test_every_single_process_block_runs(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    real_data(data.load, "binarized_mnist", "test", 10)
    blocks = python_blocks()
    # Blocks 1 to 4 are one session (3 exports the models of 2, 4 uses the imports of 1); block 5 stands alone.
    finish(run("\n".join(blocks[:4]), tmp_path))
    assert (tmp_path / "vae.keras").is_file() and (tmp_path / "serving" / "vqvae" / "1" / "saved_model.pb").is_file()
    assert (tmp_path / "decode.tflite").stat().st_size > 0
    finish(run(blocks[4], tmp_path))
    # The sample-quality block trains an extractor: into this test's folder, not the user's cache.
    out = finish(run(blocks[6], tmp_path, {"TFVAE_CACHE_DIR": str(tmp_path / "cache")}))
    assert "tfvae-classifier, trained on mnist" in out


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_the_multi_worker_block_runs_as_two_workers(tmp_path):
    real_data(data.load, "mnist", "test", 10)
    block = python_blocks()[5]
    hosts = re.findall(r'"(host\d:\d+)"', block)
    assert hosts == ["host1:12345", "host2:12345"] and '"index": 0' in block
    for host in hosts:
        block = block.replace(host, f"localhost:{_free_port()}")
    workers = [run(block.replace('"index": 0', f'"index": {i}'), tmp_path) for i in range(2)]
    for worker in workers:
        finish(worker)
