"""`tfvae export`: SavedModels and TFLite files of a saved model."""


def run(a):
    from tfvae import data, export
    from tfvae.checkpoint import load_model
    from tfvae.cli.parser import source_args

    if not (a.saved_model or a.tflite):
        raise ValueError("export needs --saved-model DIR and/or --tflite FILE.")
    model = load_model(a.model)
    prior = load_model(a.prior) if a.prior else None
    results = {}
    if a.saved_model:
        results["saved_model"] = export.export_saved_model(model, a.saved_model, a.version, prior=prior,
                                                           overwrite=a.overwrite)
    if a.tflite:
        representative = None
        if a.quantization == "int8":
            if not a.dataset:
                raise ValueError("--quantization int8 needs --dataset to calibrate on.")
            source = data.source(a.dataset, **source_args(a))
            representative = _representative(model, data.load_arrays(source, "train", limit=256), a.signature)
        results["tflite"] = a.tflite
        results["tflite_bytes"] = export.export_tflite(model, a.tflite, a.signature, a.quantization,
                                                       representative, prior=prior)
    return results


def _representative(model, images, signature):
    """Calibration inputs of a signature, from training images."""
    if signature == "decode":
        # What decode takes is what encode gives: codes, or a VAE's (mean, log_var) of which the mean.
        encoded = model.encode(images)
        return (encoded[0] if isinstance(encoded, tuple) else encoded).numpy()
    return images
