"""Multi-device training equals one device on the same global batch.

MirroredStrategy over two logical CPUs, and MultiWorkerMirroredStrategy with two
worker processes on 127.0.0.1.

Dead-code restarts are left out here: they re-seed codes from the first replica's
rows by design, which tests/layers/test_vector_quantizer.py checks on its own.
"""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.helpers import run_python

KINDS = ("vae", "cvae", "vq", "ema", "prior", "dae", "aae", "saae")

MODELS = """
import keras
import numpy as np
import tfvae

rng = np.random.default_rng(0)
images = (rng.random((48, 8, 8, 1)) < 0.4).astype("float32")
codes = rng.integers(0, 6, (48, 4, 4)).astype("int32")

def make(kind, steps_per_execution=1):
    keras.utils.set_random_seed(1)
    if kind == "vae":
        model = tfvae.VAE.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), seed=3)
    elif kind == "cvae":
        model = tfvae.ConditionalVAE.mlp((8, 8, 1), latent_dim=3, num_classes=3, hidden_units=(16,), seed=3)
    elif kind in ("vq", "ema"):
        model = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8,
                                 residual_filters=4, num_residual_blocks=1, quantizer=kind, seed=0)
    elif kind == "dae":
        model = tfvae.Autoencoder.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), noise_stddev=0.3, seed=3)
    elif kind == "aae":
        model = tfvae.AdversarialAutoencoder.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), noise_stddev=0.1,
                                                 discriminator_units=(8,), seed=3)
    elif kind == "saae":
        model = tfvae.AdversarialAutoencoder.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), discriminator_units=(8,),
                                                 num_classes=3, seed=3)
    else:
        model = tfvae.PixelCNNPrior((4, 4), 6, filters=8, num_layers=2)
    model.compile(keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution)
    return model

def data(kind):
    if kind == "prior":
        return (codes,)
    if kind in ("cvae", "saae"):
        return (images, rng.integers(0, 3, 48).astype("int32"))
    return (images,)
"""

SCRIPT = (
    """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""
    + MODELS
    + """
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
for kind in KINDS:
    # 19 examples in batches of 16: the last global batch of 3 splits unevenly (2 and 1), so a
    # mean of replica means would differ from the global mean that one device takes.
    args = tuple(a[:19] for a in data(kind))
    single = make(kind, steps_per_execution=4)
    h1 = single.fit(*args, batch_size=16, epochs=2, shuffle=False, verbose=0)
    e1 = single.evaluate(*args, batch_size=16, verbose=0, return_dict=True)
    with strategy.scope():
        mirrored = make(kind)
    assert mirrored.jit_compile is False, kind  # "auto": XLA cannot span two devices
    # The weights below also compare 4 steps per call with 1.
    assert (single.steps_per_execution, mirrored.steps_per_execution) == (4, 1), kind
    h2 = mirrored.fit(*args, batch_size=16, epochs=2, shuffle=False, verbose=0)
    e2 = mirrored.evaluate(*args, batch_size=16, verbose=0, return_dict=True)
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5, err_msg=f"{kind}: {a.path}")
    for k in h1.history:
        np.testing.assert_allclose(h2.history[k], h1.history[k], rtol=1e-4, atol=1e-5, err_msg=f"{kind}: {k}")
    for k in e1:
        np.testing.assert_allclose(e2[k], e1[k], rtol=1e-4, atol=1e-5, err_msg=f"{kind}: evaluate {k}")
    print(kind, "same weights and metrics after", int(single.optimizer.iterations.numpy()), "steps")

    # 17 examples: the last global batch of 1 would leave a replica empty. Refused in the step (each
    # train_step's and test_step's own check), never NaN or a crash, for arrays and datasets alike.
    short = tuple(a[:17] for a in data(kind))
    dataset = tf.data.Dataset.from_tensor_slices(short if len(short) > 1 else short[0]).batch(16)
    for call in (lambda: mirrored.fit(*short, batch_size=16, verbose=0),
                 lambda: mirrored.evaluate(*short, batch_size=16, verbose=0),
                 lambda: mirrored.fit(dataset, verbose=0)):
        try:
            call()
        except tf.errors.InvalidArgumentError as e:
            assert "replica would get none" in str(e) and "drop" in str(e).lower(), str(e)
        else:
            raise AssertionError(f"{kind}: a batch that leaves a replica empty was not refused")
    print(kind, "refuses an empty replica batch")
""".replace("KINDS", repr(KINDS))
)


def test_mirrored_strategy_matches_single_device_for_every_model():
    out = run_python(SCRIPT, timeout=600)
    for kind in KINDS:
        assert f"{kind} same weights and metrics after 4 steps" in out
        assert f"{kind} refuses an empty replica batch" in out


# One process of the multi-worker run, or (no TF_CONFIG) the single-device reference:
# trains every model on the same data and global batch and saves weights and history.
WORKER = """
import os, sys
import tensorflow as tf
# The strategy must exist before any other TensorFlow call.
strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None
""" + MODELS + """
out = sys.argv[1]
if strategy is not None:
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    # As fit distributes them, each worker gets half of every global batch of 16.
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(16))
    assert {int(strategy.experimental_local_results(b)[0].shape[0]) for b in batches} == {8}
for kind in KINDS:
    if strategy is None:
        model = make(kind)
    else:
        with strategy.scope():
            model = make(kind)
    history = model.fit(*data(kind), batch_size=16, epochs=2, shuffle=False, verbose=0).history
    np.savez(f"{out}_{kind}.npz", steps=int(model.optimizer.iterations.numpy()),
             **{f"w{i}": np.asarray(w) for i, w in enumerate(model.weights)},
             **{f"h_{k}": np.asarray(v) for k, v in history.items()})
print("done")
""".replace("KINDS", repr(KINDS))


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _run_together(commands, timeout):
    """Starts all processes; kills the rest as soon as one fails or time is up."""
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for cmd, env in commands]
    deadline = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.monotonic() > deadline:
                for p in procs:
                    p.kill()
                outputs = [p.communicate() for p in procs]
                why = "a process failed" if failed else f"not done after {timeout} s"
                pytest.fail(f"{why}; return codes {[p.returncode for p in procs]}\n" + "\n".join(
                    f"--- process {i} stderr:\n{err[-3000:]}" for i, (_, err) in enumerate(outputs)))
            time.sleep(0.5)
        outputs = [p.communicate() for p in procs]
        for i, (p, (_, err)) in enumerate(zip(procs, outputs)):
            if p.returncode != 0:
                pytest.fail(f"process {i} failed ({p.returncode}):\n{err[-5000:]}")
        return outputs
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_multi_worker_mirrored_strategy_matches_single_device(tmp_path):
    ports = _free_ports(2)
    base = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    base.pop("TF_CONFIG", None)
    commands = [([sys.executable, "-c", WORKER, str(tmp_path / "single")], base)]
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                     "task": {"type": "worker", "index": index}}
        commands.append(([sys.executable, "-c", WORKER, str(tmp_path / f"worker{index}")],
                         dict(base, TF_CONFIG=json.dumps(tf_config))))
    _run_together(commands, timeout=420)
    for kind in KINDS:
        single = np.load(tmp_path / f"single_{kind}.npz")
        assert int(single["steps"]) == 6
        for index in range(2):
            worker = np.load(tmp_path / f"worker{index}_{kind}.npz")
            assert sorted(worker.files) == sorted(single.files)
            assert int(worker["steps"]) == 6, kind
            for key in single.files:
                np.testing.assert_allclose(worker[key], single[key], rtol=1e-4, atol=1e-5,
                                           err_msg=f"{kind}, worker {index}: {key}")
