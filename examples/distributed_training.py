"""Training on several devices with `tf.distribute.MirroredStrategy`.

    python examples/distributed_training.py
    python examples/distributed_training.py --smoke

Build and compile the model inside `strategy.scope()`; `fit` then splits each
batch across the devices and adds up the gradients. tfvae's losses are sums
over the examples divided by the global batch size, so the weights follow the
same path as on one device. Without GPUs this example splits the CPU into two
logical devices, so it runs anywhere.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfvae  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--smoke", action="store_true", help="a seconds-long run on 1,000 images (for tests)")
    args = p.parse_args(argv)

    if not tf.config.list_physical_devices("GPU"):
        # Must happen before TensorFlow touches a device.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy()
    print(f"training on {strategy.num_replicas_in_sync} devices")
    keras.utils.set_random_seed(0)

    with strategy.scope():
        vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(64,) if args.smoke else (500,), seed=0)
        vae.compile(keras.optimizers.Adam(1e-3))
    # The global batch: 100 images, 50 per device.
    train = tfvae.data.load("binarized_mnist", "train[:1000]" if args.smoke else "train", 100, seed=0)
    vae.fit(train, epochs=1 if args.smoke else args.epochs, shuffle=False, verbose=1 if sys.stdout.isatty() else 2)
    x_test = tfvae.data.load_arrays("binarized_mnist", "test", limit=1000)
    print(f"test -ELBO {vae.evaluate(x_test, batch_size=100, return_dict=True, verbose=0)['loss']:.2f} nats")


if __name__ == "__main__":
    main()
