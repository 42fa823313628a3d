"""Ask TF Serving for new images, codes or reconstructions of an exported tfvae model.

Serve the exports of the examples first, e.g. with TF Serving's Docker image:

    docker run -p 8500:8500 -p 8501:8501 \\
      -v "$PWD/saved_models/vqvae:/models/vqvae" -e MODEL_NAME=vqvae tensorflow/serving

then:

    python examples/serving_client.py --model vqvae --signature sample --seeds 1 2 3 --out samples.png
    python examples/serving_client.py --model vqvae --signature sample --grpc localhost:8500
    python examples/serving_client.py --model vae --signature decode --latent-dim 20 --print-request

`sample` takes one seed per image (reproducible); `decode` here sends random
latents (VAE) or random codes (VQ-VAE, --grid 7 7 --num-embeddings 128).
"""

import argparse
import json
import sys

import numpy as np

from tfvae import serving


def build_inputs(a):
    rng = np.random.default_rng(a.seed)
    if a.signature == "sample":
        inputs = {"seed": np.asarray(a.seeds, np.int64)}
    elif a.signature == "decode" and a.grid:
        inputs = {"codes": rng.integers(0, a.num_embeddings, (len(a.seeds), *a.grid)).astype(np.int32)}
    elif a.signature == "decode":
        inputs = {"latent": rng.normal(size=(len(a.seeds), a.latent_dim)).astype(np.float32)}
    else:
        raise SystemExit(f"this client builds inputs for 'sample' and 'decode'; received {a.signature!r}")
    if a.label is not None:
        inputs["label"] = np.full(len(a.seeds), a.label, np.int32)
    return inputs


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model name in TF Serving (e.g. vae, vqvae)")
    p.add_argument("--signature", default="sample", help="signature: sample or decode (default: sample)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="one seed per image")
    p.add_argument("--label", type=int, help="class label for conditional models")
    p.add_argument("--latent-dim", type=int, default=20, help="VAE decode: latent size (default: 20)")
    p.add_argument("--grid", type=int, nargs=2, help="VQ-VAE decode: code grid height and width")
    p.add_argument("--num-embeddings", type=int, default=128, help="VQ-VAE decode: codebook size")
    p.add_argument("--seed", type=int, default=0, help="seed of the random decode inputs")
    p.add_argument("--rest", default="http://localhost:8501", help="REST base URL (default: http://localhost:8501)")
    p.add_argument("--grpc", help="gRPC target host:port; uses gRPC instead of REST")
    p.add_argument("--version", type=int, help="model version (default: the latest)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds (default: 30)")
    p.add_argument("--print-request", action="store_true", help="print the REST request body and exit")
    p.add_argument("--out", help="write the returned images to this PNG")
    a = p.parse_args(argv)
    inputs = build_inputs(a)
    if a.print_request:
        print(json.dumps(serving.rest_request_body(a.signature, inputs)))
        return 0
    try:
        if a.grpc:
            outputs = serving.predict_grpc(a.grpc, a.model, a.signature, inputs, a.version, a.timeout)
        else:
            outputs = serving.predict_rest(a.rest, a.model, a.signature, inputs, a.version, a.timeout)
    except serving.ServingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name, value in outputs.items():
        print(f"{name}: shape {value.shape}, dtype {value.dtype}")
    if a.out:
        from tfvae.images import save_png

        images = outputs.get("images", outputs.get("output"))
        save_png(a.out, np.asarray(images, np.float32), columns=min(len(images), 10))
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
