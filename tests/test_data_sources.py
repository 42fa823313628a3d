"""Images from anywhere (tfvae.data.DataSource): folders, .npy/.npz files, arrays, any TFDS name, resized."""

import contextlib
import io
import json
import os

import keras
import numpy as np
import pytest
from PIL import Image

import tfvae
from tests.helpers import real_data
from tfvae import cli, data

rng = np.random.default_rng(26)
FORMATS = ("png", "jpg", "bmp", "gif")


def _write(path, array):
    Image.fromarray(array).save(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two classes of colour images of odd sizes, in every format (JPEG is lossy, the others exact)."""
    root = tmp_path_factory.mktemp("photos")
    for c, cls in enumerate(("cats", "dogs")):
        os.makedirs(root / cls)
        for i in range(15):
            h, w = (int(v) for v in rng.integers(12, 40, 2))
            image = np.full((h, w, 3), 60 + 120 * c, np.uint8) + rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
            _write(root / cls / f"{i:02d}.{FORMATS[i % 4]}", image)
    return root


def test_a_folder_of_colour_images_loads_resized_with_labels_on_the_256_levels(folder):
    info = data.dataset_info(str(folder), image_size=16)
    assert info.image_shape == (16, 16, 3) and info.num_classes == 2 and info.splits == ("train", "test", "all")
    x, y = data.load_arrays(str(folder), "all", with_labels=True, image_size=16)
    assert x.shape == (30, 16, 16, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(y, [0] * 15 + [1] * 15)  # class sub-folders in sorted order
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)  # still on the 8-bit levels
    assert x[y == 1].mean() > x[y == 0].mean() + 0.3  # the dogs are the brighter class
    # Every 10th file is the test split.
    assert len(data.load_arrays(str(folder), "test", image_size=16)) == 3
    assert len(data.load_arrays(str(folder), "train", image_size=16)) == 27


def test_crop_and_pad_keep_the_aspect_ratio(tmp_path):
    """A 10 x 20 image, left half black, right half white, to 10 x 10: the centre crop keeps columns 5..14
    (half black, half white); padding keeps the whole image above and below black bands."""
    image = np.zeros((10, 20, 1), np.uint8)
    image[:, 10:] = 255
    np.save(tmp_path / "one.npy", image[None])
    crop = data.load_arrays(str(tmp_path / "one.npy"), "all", image_size=(10, 10))[0, ..., 0]
    np.testing.assert_array_equal(crop[:, :5], 0.0)
    np.testing.assert_array_equal(crop[:, 5:], 1.0)
    pad = data.load_arrays(str(tmp_path / "one.npy"), "all", image_size=(10, 10), resize="pad")[0, ..., 0]
    np.testing.assert_array_equal(pad[:2], 0.0)  # the zero band above (20 x 10 scaled to 10 x 5, centred)
    assert pad[4, :4].max() == 0.0 and pad[4, 6:].min() == 1.0


def test_npz_arrays_and_float_images(tmp_path):
    images = rng.integers(0, 256, (40, 8, 8, 3), dtype=np.uint8)
    labels = rng.integers(0, 4, 40)
    np.savez(tmp_path / "split.npz", x_train=images[:30], y_train=labels[:30], x_test=images[30:],
             y_test=labels[30:])
    x, y = data.load_arrays(str(tmp_path / "split.npz"), "test", with_labels=True)
    np.testing.assert_array_equal(x, (images[30:] / np.float32(255.0)).astype(np.float32))
    np.testing.assert_array_equal(y, labels[30:])
    assert data.dataset_info(str(tmp_path / "split.npz")).splits == ("train", "test")
    np.savez(tmp_path / "plain.npz", images=images, labels=labels)
    assert data.dataset_info(str(tmp_path / "plain.npz")).num_classes == 4
    floats = rng.random((12, 5, 5)).astype(np.float32) * 2 - 1
    x = data.load_arrays(floats, "all", float_range=(-1, 1))
    np.testing.assert_allclose(x[..., 0], (floats + 1) / 2, rtol=1e-6)
    # Float data are not 8-bit: the command line's VAE default is then the Gaussian density.
    assert not data.dataset_info(floats, float_range=(-1, 1)).eight_bit
    with pytest.raises(ValueError, match=r"float images need their range stated, e\.g\. float_range"):
        data.load_arrays(floats, "all")


def test_cifar10_resized_stays_on_its_levels():
    x, y = real_data(data.load_arrays, "cifar10", "test", with_labels=True, limit=64, image_size=(16, 16))
    assert x.shape == (64, 16, 16, 3) and set(np.unique(y)) <= set(range(10))
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)
    grey = data.load_arrays("cifar10", "test", limit=8, channels=1)
    assert grey.shape == (8, 32, 32, 1)


def test_a_model_trains_on_a_folder_and_epoch_data_reads_it(folder):
    x = data.load(str(folder), "train", 8, image_size=16, seed=0)
    vae = tfvae.VAE.conv((16, 16, 3), latent_dim=4, filters=(4, 8), hidden_units=16, seed=0,
                         likelihood="discretized_gaussian")
    vae.compile(keras.optimizers.Adam(1e-3))
    history = vae.fit(x, epochs=1, verbose=0, shuffle=False)  # load() shuffles
    assert np.isfinite(history.history["loss"][0])
    epochs = data.EpochData(str(folder), "train", 8, 0, with_labels=True, image_size=16)
    assert len(epochs) == 27 and epochs.images.dtype == np.uint8 and epochs.images.shape[1:] == (16, 16, 3)


def _main(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue()


def test_tfvae_train_takes_a_folder_and_an_npz(folder, tmp_path):
    code, _ = _main(["train", "vqvae", "--dataset", folder, "--image-size", "16", "--epochs", "1",
                     "--prior-epochs", "0", "--hidden-filters", "8", "--residual-filters", "4",
                     "--residual-blocks", "1", "--num-embeddings", "8", "--embedding-dim", "4",
                     "--output-dir", tmp_path / "vq", "--no-export", "--verbose", "0"])
    assert code == 0
    results = json.loads((tmp_path / "vq" / "results.json").read_text())
    assert results["dataset"] == str(folder)
    assert keras.saving.load_model(tmp_path / "vq" / "model.keras").image_shape == (16, 16, 3)
    np.savez(tmp_path / "faces.npz", images=rng.integers(0, 256, (60, 12, 10), dtype=np.uint8))
    code, _ = _main(["train", "vae", "--dataset", tmp_path / "faces.npz", "--image-size", "8", "--epochs", "1",
                     "--iw-samples", "0", "--latent-dim", "2", "--hidden-units", "8", "--output-dir",
                     tmp_path / "vae", "--no-export", "--verbose", "0"])
    assert code == 0
    vae = keras.saving.load_model(tmp_path / "vae" / "model.keras")
    assert vae.image_shape == (8, 8, 1) and str(vae.likelihood) == "discretized_gaussian"


def _broken_folders(tmp_path):
    empty = tmp_path / "empty"
    os.makedirs(empty / "class_a")
    truncated = tmp_path / "truncated"
    os.makedirs(truncated)
    for i in range(3):
        _write(truncated / f"{i}.jpg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    raw = (truncated / "0.jpg").read_bytes()
    (truncated / "0.jpg").write_bytes(raw[: len(raw) // 2])
    (truncated / "notes.png").write_bytes(b"this is not a PNG")
    mixed = tmp_path / "mixed"
    os.makedirs(mixed)
    _write(mixed / "grey.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    _write(mixed / "colour.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    sizes = tmp_path / "sizes"
    os.makedirs(sizes)
    _write(sizes / "a.png", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    _write(sizes / "b.png", rng.integers(0, 256, (9, 8, 3), dtype=np.uint8))
    np.savez(tmp_path / "no_images.npz", a=np.zeros(3), b=np.zeros((2, 2)))
    (tmp_path / "table.csv").write_text("1,2\n")
    return empty, truncated, mixed, sizes


def test_bad_sources_are_refused_in_one_clear_line(tmp_path):
    empty, truncated, mixed, sizes = _broken_folders(tmp_path)
    cases = [
        (str(empty), {}, "holds no images"),
        (str(truncated), {}, r"2 of 4 image files cannot be read \(unreadable or truncated\), e\.g\. .*0\.jpg"),
        (str(mixed), {}, "mixes images with 1 and 3 channels; give channels=1 or 3"),
        (str(sizes), {}, r"holds images of several sizes; give image_size=\(height, width\)"),
        ("imdb_reviews", {}, "TFDS data set 'imdb_reviews' has no image feature; its features are"),
        (str(tmp_path / "nowhere"), {}, "does not exist: no such folder or file"),
        (str(tmp_path / "no_images.npz"), {}, r"has no image array \(arrays: a \(3,\), b \(2, 2\)\)"),
        (str(tmp_path / "table.csv"), {}, "is a file but not a .npy or .npz"),
        ("binarized_mnist", {"image_size": 14}, "binary pixels"),
        ("mnist", {"image_size": (0, 4)}, "image_size"),
        ("mnist", {"channels": 2}, "channels"),
    ]
    for name, options, message in cases:
        with pytest.raises(ValueError, match=message):
            data.dataset_info(name, **options)
    # Mixed channels load once converted; sizes once resized.
    assert data.dataset_info(str(mixed), channels=3).image_shape == (8, 8, 3)
    assert data.dataset_info(str(sizes), image_size=8).image_shape == (8, 8, 3)


def test_the_command_line_refuses_a_bad_source_before_any_work(tmp_path, capsys):
    code, _ = _main(["train", "vae", "--dataset", tmp_path / "nowhere", "--output-dir", tmp_path / "out"])
    assert code == 2
    assert "does not exist: no such folder or file" in capsys.readouterr().err
    assert not (tmp_path / "out" / "model.keras").exists()


def test_tfvae_train_vae_resnet_on_colour_arrays(tmp_path, capsys):
    """A spatial-latent VAE with the logistic mixture from the command line, bits/dim reported."""
    np.savez(tmp_path / "colour.npz", images=rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8))
    code, _ = _main(["train", "vae", "--dataset", tmp_path / "colour.npz", "--architecture", "resnet",
                     "--latent-channels", "2", "--downsample-factor", "4", "--base-filters", "8",
                     "--likelihood", "discretized_logistic_mixture", "--epochs", "1", "--iw-samples", "0",
                     "--output-dir", tmp_path / "out", "--no-export", "--verbose", "0"])
    assert code == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["architecture"] == "resnet" and results["latent_dim"] == 4 * 4 * 2
    assert np.isfinite(results["test_nelbo_bits_per_dim"])
    code, _ = _main(["train", "vae", "--dataset", tmp_path / "colour.npz", "--latent-channels", "2",
                     "--output-dir", tmp_path / "mlp"])
    assert code == 2 and "--latent-channels does not go with --architecture mlp" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["folder", "npz", "cifar10"])
def test_tfvae_train_vqvae_resnet_at_64x64(where, folder, tmp_path, capsys):
    """`tfvae train vqvae --architecture resnet --image-size 64` on a folder, an .npz and CIFAR-10, prior included."""
    if where == "folder":
        dataset, limits = folder, []
    elif where == "npz":
        dataset, limits = tmp_path / "photos.npz", []
        np.savez(dataset, images=rng.integers(0, 256, (30, 48, 40, 3), dtype=np.uint8))
    else:
        real_data(data.load_arrays, "cifar10", "test", limit=1)  # fails under CI when the prepared data set is missing
        dataset, limits = "cifar10", ["--train-examples", "48", "--test-examples", "16"]
    out = tmp_path / "vq"
    code, _ = _main(["train", "vqvae", "--dataset", dataset, "--image-size", "64", "--architecture", "resnet",
                     "--downsample-factor", "8", "--base-filters", "8", "--num-embeddings", "8", "--embedding-dim",
                     "4", "--epochs", "1", "--prior-epochs", "1", "--prior-filters", "8", "--prior-layers", "2",
                     "--batch-size", "16", "--num-samples", "4", *limits, "--output-dir", out, "--no-export",
                     "--verbose", "0"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["architecture"] == "resnet" and results["dataset"] == str(dataset)
    vqvae = keras.saving.load_model(out / "model.keras")
    assert vqvae.image_shape == (64, 64, 3) and vqvae.grid_shape == (8, 8)
    assert 0 < results["test_codebook_usage"] <= 1 and np.isfinite(results["test_nll_bound_bits_per_dim"])
    code, _ = _main(["train", "vqvae", "--dataset", dataset, "--image-size", "64", "--hidden-filters", "8",
                     "--architecture", "resnet", "--output-dir", tmp_path / "bad"])
    assert code == 2 and "--hidden-filters does not go with --architecture resnet" in capsys.readouterr().err


def test_tfvae_train_ae_resnet_and_export_int8_calibrated_on_resized_images(folder, tmp_path):
    """A spatial-code autoencoder from the command line, then an int8 TFLite file calibrated on the folder at 32."""
    code, _ = _main(["train", "ae", "--dataset", folder, "--image-size", "32", "--architecture", "resnet",
                     "--latent-channels", "2", "--downsample-factor", "4", "--base-filters", "8", "--epochs", "1",
                     "--output-dir", tmp_path / "ae", "--no-export", "--verbose", "0"])
    assert code == 0
    ae = keras.saving.load_model(tmp_path / "ae" / "model.keras")
    assert ae.image_shape == (32, 32, 3) and ae.latent_shape == (8, 8, 2)
    code, _ = _main(["export", tmp_path / "ae" / "model.keras", "--tflite", tmp_path / "ae.tflite", "--signature",
                     "encode", "--quantization", "int8", "--dataset", folder, "--image-size", "32"])
    assert code == 0 and (tmp_path / "ae.tflite").stat().st_size > 0
