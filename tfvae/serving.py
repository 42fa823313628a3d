"""Clients for TF Serving's Predict API (REST and gRPC) for exported tfvae models.

REST needs only the standard library. gRPC needs `tensorflow-serving-api`
(`pip install tensorflow-serving-api`, not a tfvae dependency because its
releases pin their own TensorFlow).
"""

import json
import urllib.error
import urllib.request

import numpy as np

__all__ = ["ServingError", "predict_grpc", "predict_rest", "rest_request_body"]


class ServingError(RuntimeError):
    """The server answered with an error, or could not be reached."""


def rest_request_body(signature, inputs):
    """The JSON body of a REST predict request in the columnar ("inputs") format."""
    return {"signature_name": signature, "inputs": {k: np.asarray(v).tolist() for k, v in inputs.items()}}


def predict_rest(url, model, signature, inputs, version=None, timeout=30.0):
    """POSTs to `{url}/v1/models/{model}[/versions/{version}]:predict`; returns outputs as arrays.

    A single output comes back under its signature's only name, which the
    server omits; it is returned under the key "output".
    """
    path = f"{url.rstrip('/')}/v1/models/{model}" + (f"/versions/{int(version)}" if version else "") + ":predict"
    data = json.dumps(rest_request_body(signature, inputs)).encode()
    request = urllib.request.Request(path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise ServingError(f"{path}: HTTP {e.code}: {e.read().decode(errors='replace')[:500]}") from None
    except (urllib.error.URLError, OSError) as e:
        raise ServingError(f"{path}: cannot reach the server: {e}") from None
    outputs = payload.get("outputs")
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    return {"output": np.asarray(outputs)}


def predict_grpc(target, model, signature, inputs, version=None, timeout=30.0):
    """Calls PredictionService.Predict at `target` (host:port); returns outputs as arrays."""
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError as e:
        raise ImportError("gRPC requests need `pip install tensorflow-serving-api`.") from e
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            response = stub.Predict(request, timeout=timeout)
        except grpc.RpcError as e:
            raise ServingError(f"{target}: {e.code()}: {e.details()}") from None
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
