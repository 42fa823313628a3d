"""Multi-device training: MirroredStrategy over two logical CPUs equals one device on the same global batch.

Dead-code restarts are left out here: they re-seed codes from the first replica's
rows by design, which tests/layers/test_vector_quantizer.py checks on its own.
"""

from tests.helpers import run_python

SCRIPT = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import tfvae

rng = np.random.default_rng(0)
images = (rng.random((48, 8, 8, 1)) < 0.4).astype("float32")
codes = rng.integers(0, 6, (48, 4, 4)).astype("int32")

def make(kind):
    keras.utils.set_random_seed(1)
    if kind == "vae":
        model = tfvae.VAE.mlp((8, 8, 1), latent_dim=3, hidden_units=(16,), seed=3)
    elif kind == "cvae":
        model = tfvae.ConditionalVAE.mlp((8, 8, 1), latent_dim=3, num_classes=3, hidden_units=(16,), seed=3)
    elif kind in ("vq", "ema"):
        model = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=6, embedding_dim=3, hidden_filters=8,
                                 residual_filters=4, num_residual_blocks=1, quantizer=kind, seed=0)
    else:
        model = tfvae.PixelCNNPrior((4, 4), 6, filters=8, num_layers=2)
    model.compile(keras.optimizers.Adam(1e-2))
    return model

def data(kind):
    if kind == "prior":
        return (codes,)
    if kind == "cvae":
        return (images, rng.integers(0, 3, 48).astype("int32"))
    return (images,)

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert strategy.num_replicas_in_sync == 2
for kind in ("vae", "cvae", "vq", "ema", "prior"):
    args = data(kind)
    single = make(kind)
    h1 = single.fit(*args, batch_size=16, epochs=2, shuffle=False, verbose=0)
    with strategy.scope():
        mirrored = make(kind)
    h2 = mirrored.fit(*args, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5, err_msg=f"{kind}: {a.path}")
    for k in h1.history:
        np.testing.assert_allclose(h2.history[k], h1.history[k], rtol=1e-4, atol=1e-5, err_msg=f"{kind}: {k}")
    print(kind, "same weights and metrics after", int(single.optimizer.iterations.numpy()), "steps")
"""


def test_mirrored_strategy_matches_single_device_for_every_model():
    out = run_python(SCRIPT, timeout=600)
    for kind in ("vae", "cvae", "vq", "ema", "prior"):
        assert f"{kind} same weights and metrics after 6 steps" in out
