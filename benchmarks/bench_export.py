"""Benchmark of exported models: file sizes and single-image latency.

    python benchmarks/bench_export.py

For the VAE decoder (AEVB MLP, 20 latents) and the VQ-VAE encoder and decoder
(examples/train_vqvae.py's default network), in one process: the size of each
artifact and the median latency of one image (batch of 1) over --runs calls,
after a warm-up, for Keras (the model's own compiled function), the reloaded
SavedModel signature, and TFLite through LiteRT in float32, float16, dynamic
range and int8. Weights are random: size and speed do not depend on training.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import device_description  # noqa: E402


def _median_ms(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _dir_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    import tfvae
    from tfvae import export

    rng = np.random.default_rng(0)
    vae = tfvae.VAE.mlp((28, 28, 1), latent_dim=20, hidden_units=(500,))
    vqvae = tfvae.VQVAE.conv((28, 28, 1), num_embeddings=128, embedding_dim=16, hidden_filters=64,
                             residual_filters=32, num_residual_blocks=1)
    images = rng.random((256, 28, 28, 1)).astype("float32")
    cases = [
        ("VAE decoder", vae, "decode", {"latent": rng.normal(size=(1, 20)).astype("float32")},
         rng.normal(size=(256, 20)).astype("float32")),
        ("VQ-VAE encoder", vqvae, "encode", {"images": images[:1]}, images),
        ("VQ-VAE decoder", vqvae, "decode", {"codes": rng.integers(0, 128, (1, 7, 7)).astype("int32")},
         rng.integers(0, 128, (256, 7, 7)).astype("int32")),
    ]
    print(
        f"bench_export: single-image latency, median of {args.runs} runs after a warm-up; device {device_description()}"
    )
    print("| model | format | file size (KiB) | latency (ms) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for title, model, signature, one, representative in cases:
            fn = export.serving_functions(model)[signature]
            keras_ms = _median_ms(lambda: fn(**one), args.runs)
            keras_path = os.path.join(tmp, f"{signature}_{id(model)}.keras")
            model.save(keras_path)
            print(
                f"| {title} | Keras (.keras, compiled function) | {os.path.getsize(keras_path) / 1024:,.0f} | {keras_ms:.3f} |"
            )
            saved = export.export_saved_model(model, os.path.join(tmp, f"sm_{id(model)}"), overwrite=True, version=1)
            sig = tf.saved_model.load(saved).signatures[signature]
            feed = {k: tf.constant(v) for k, v in one.items()}
            sm_ms = _median_ms(lambda: sig(**feed), args.runs)
            print(f"| {title} | SavedModel | {_dir_size(saved) / 1024:,.0f} | {sm_ms:.3f} |")
            from ai_edge_litert.interpreter import Interpreter

            for quantization in (None, "float16", "dynamic", "int8"):
                path = os.path.join(tmp, f"{signature}_{quantization}.tflite")
                size = export.export_tflite(model, path, signature=signature, quantization=quantization,
                                            representative_data=representative)
                runner = Interpreter(model_path=path).get_signature_runner(signature)
                ms = _median_ms(lambda: runner(**one), args.runs)
                print(f"| {title} | TFLite {quantization or 'float32'} | {size / 1024:,.0f} | {ms:.3f} |", flush=True)


if __name__ == "__main__":
    main()
