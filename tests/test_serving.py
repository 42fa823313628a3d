"""The serving client against a stand-in for TF Serving's REST API on 127.0.0.1.

There is no TF Serving binary here: the stand-in loads the exported SavedModel
with tf.saved_model.load and answers the Predict REST format (columnar
"inputs" in, "outputs" out, a bare value for a single output), so the test
shows the client's requests fit the exported signatures end to end.
"""

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import tensorflow as tf

import tfvae
from tests.conftest import ROOT
from tfvae import export, serving


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving")
    vqvae = tfvae.VQVAE.conv((12, 12, 1), num_embeddings=8, embedding_dim=4, hidden_filters=8,
                             residual_filters=4, num_residual_blocks=1)
    prior = tfvae.PixelCNNPrior(vqvae.grid_shape, 8, filters=8, num_layers=2)
    export.export_saved_model(vqvae, str(base / "vqvae"), prior=prior)
    loaded = tf.saved_model.load(str(base / "vqvae" / "1"))
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append((self.path, body))
            if self.path != "/v1/models/vqvae:predict":
                return self._reply(404, {"error": f"no model at {self.path}"})
            fn = loaded.signatures[body.get("signature_name", "serving_default")]
            specs = fn.structured_input_signature[1]
            try:
                out = fn(**{k: tf.constant(v, specs[k].dtype) for k, v in body["inputs"].items()})
            except Exception as e:  # TF Serving answers errors as {"error": ...}
                return self._reply(400, {"error": str(e)[:200]})
            outputs = {k: v.numpy().tolist() for k, v in out.items()}
            self._reply(200, {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))})

        def _reply(self, code, payload):
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", loaded, requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_rest_client_sample_and_decode_match_the_savedmodel(server):
    url, loaded, _ = server
    out = serving.predict_rest(url, "vqvae", "sample", {"seed": np.array([5, 6], np.int64)}, timeout=60)
    ref = loaded.signatures["sample"](seed=tf.constant([5, 6], tf.int64))
    np.testing.assert_array_equal(out["codes"], ref["codes"].numpy())
    np.testing.assert_allclose(out["images"], ref["images"].numpy(), atol=1e-6)
    single = serving.predict_rest(url, "vqvae", "decode", {"codes": np.ones((1, 3, 3), np.int32)}, timeout=60)
    assert single["output"].shape == (1, 12, 12, 1)


def test_serving_client_example_writes_the_returned_images(server, tmp_path):
    url, _, requests = server
    png = tmp_path / "s.png"
    proc = subprocess.run(
        [sys.executable, "examples/serving_client.py", "--model", "vqvae", "--signature", "sample",
         "--seeds", "1", "2", "3", "--rest", url, "--out", str(png)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "images: shape (3, 12, 12, 1)" in proc.stdout
    assert tf.io.decode_png(png.read_bytes()).shape == (14, 40, 1)
    assert requests[-1][1] == {"signature_name": "sample", "inputs": {"seed": [1, 2, 3]}}


def test_server_errors_and_unreachable_servers_are_reported(server):
    url, _, _ = server
    with pytest.raises(serving.ServingError, match="HTTP 404"):
        serving.predict_rest(url, "nope", "sample", {"seed": [1]})
    with pytest.raises(serving.ServingError, match="HTTP 400"):
        serving.predict_rest(url, "vqvae", "decode", {"codes": [[[99, 0, 0], [0, 0, 0], [0, 0, 0]]]})
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(serving.ServingError, match="cannot reach"):
        serving.predict_rest(f"http://127.0.0.1:{port}", "vqvae", "sample", {"seed": [1]}, timeout=5)


def test_print_request_shows_the_rest_body():
    proc = subprocess.run(
        [sys.executable, "examples/serving_client.py", "--model", "vae", "--signature", "decode",
         "--latent-dim", "2", "--seeds", "0", "--label", "3", "--print-request"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = json.loads(proc.stdout)
    assert body["signature_name"] == "decode" and np.shape(body["inputs"]["latent"]) == (1, 2)
    assert body["inputs"]["label"] == [3]
