"""Export a trained model for TF Serving and LiteRT, and call both as a client would.

    python examples/export_and_serve.py --model saved_models/vae/model.keras
    python examples/export_and_serve.py --smoke       # trains a tiny VAE first

1. `tfvae.export.export_saved_model` writes a numbered version folder that TF
   Serving loads as it is, with named signatures (`encode`, `decode`,
   `sample`, ...). Here it is loaded back with plain TensorFlow, without tfvae,
   the way a server sees it.
2. `tfvae.export.export_tflite` writes one signature as a LiteRT model on
   builtin ops; `tfvae.export.run_tflite` runs it.
3. `tfvae.serving.rest_request_body` is the JSON a client POSTs to TF Serving's
   REST API (`examples/serving_client.py` sends it to a running server).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfvae  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="saved_models/vae/model.keras", help="a VAE's .keras file")
    p.add_argument("--output-dir", default="saved_models/served_vae")
    p.add_argument("--smoke", action="store_true", help="train a tiny VAE instead of loading --model")
    args = p.parse_args(argv)

    if args.smoke:
        vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=2, hidden_units=(16,), seed=0)
        vae.compile("adam")
        vae.fit(tfvae.data.load("binarized_mnist", "train[:500]", 100, seed=0), epochs=1, shuffle=False, verbose=0)
    else:
        vae = keras.saving.load_model(args.model)

    # 1. SavedModel for TF Serving, loaded back as a server would load it.
    version_dir = tfvae.export.export_saved_model(vae, args.output_dir)
    served = tf.saved_model.load(version_dir)
    print(f"{version_dir}: signatures {sorted(served.signatures)}")
    images = served.signatures["sample"](seed=tf.constant([1, 2, 3], tf.int64))["images"]
    print(f"sample(seed=[1, 2, 3]) -> images {tuple(images.shape)}")

    # 2. LiteRT: the decoder alone, for a phone.
    path = os.path.join(args.output_dir, "decode.tflite")
    tfvae.export.export_tflite(vae, path, signature="decode")
    latent = np.zeros((1, vae.latent_dim), np.float32)
    on_device = tfvae.export.run_tflite(path, {"latent": latent})["images"]
    difference = float(np.abs(on_device - vae.decode(latent).numpy()).max())
    print(f"{path}: decode(0) differs from the Keras model by at most {difference:.2e}")

    # 3. What a REST client sends: POST http://host:8501/v1/models/vae:predict
    body = tfvae.serving.rest_request_body("sample", {"seed": np.array([1, 2, 3], np.int64)})
    print("REST request body:", json.dumps(body))


if __name__ == "__main__":
    main()
