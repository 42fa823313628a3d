"""Residual VQ against NumPy: level by level on the residuals, prefixes of levels, quantizer dropout; in a VQ-VAE
with its prior, exports, per-level metrics; under tf.distribute and mixed precision."""

import keras
import numpy as np
import pytest

import tfvae
from tests.helpers import check_vqvae_save_and_tflite, fit_under_mixed_float16, run_python
from tfvae.layers import ResidualVectorQuantizer

rng = np.random.default_rng(2703)


def _numpy_rvq(z, codebooks):
    """Indices, output and per-example loss (plain VQ: (1 + 0.25) x mean squared residual error per level)."""
    residual = z.reshape(len(z), -1, z.shape[-1]).astype(np.float64)
    total, indices, loss = np.zeros_like(residual), [], np.zeros(len(z))
    for e in codebooks:
        idx = np.argmin(((residual[..., None, :] - e) ** 2).sum(-1), axis=-1)
        q = e[idx]
        loss += 1.25 * ((residual - q) ** 2).mean(axis=(1, 2))
        total, residual = total + q, residual - q
        indices.append(idx)
    return np.stack(indices, -1).reshape(*z.shape[:-1], len(codebooks)), total.reshape(z.shape), loss


@pytest.mark.parametrize("shared", [False, True])
def test_levels_quantise_the_residuals_as_numpy_does(shared):
    rvq = ResidualVectorQuantizer(3, 8, 4, quantizer="vq", shared_codebook=shared)
    z = rng.normal(size=(6, 2, 3, 4)).astype("float32")
    rvq.build(z.shape)
    codebooks = [q.embeddings.numpy() for q in rvq.levels]
    assert len({id(q) for q in rvq.levels}) == (1 if shared else 3)
    details = rvq.quantize_details(z)
    indices, total, loss = _numpy_rvq(z, codebooks)
    np.testing.assert_array_equal(details["indices"].numpy(), indices)
    np.testing.assert_allclose(details["quantized"].numpy(), total, atol=1e-5)
    np.testing.assert_allclose(details["loss"].numpy(), loss, rtol=1e-4)
    np.testing.assert_array_equal(rvq.get_code_indices(z).numpy(), indices)
    for n in (1, 2, 3):  # a prefix of the levels decodes at a lower bit rate
        np.testing.assert_allclose(rvq.lookup(indices[..., :n]).numpy(),
                                   sum(codebooks[i][indices[..., i]] for i in range(n)), atol=1e-5)
    with pytest.raises(ValueError, match="1 <= n <= 3"):
        rvq.lookup(np.zeros((2, 4), "int32"))


def test_quantizer_dropout_trains_each_example_on_a_prefix_of_levels():
    rvq = ResidualVectorQuantizer(3, 8, 4, quantizer="ema", quantizer_dropout=True, seed=5)
    z = rng.normal(size=(3000, 4)).astype("float32")
    rvq.build(z.shape)
    codebooks = [q.embeddings.numpy() for q in rvq.levels]
    size_before = rvq.levels[1].ema_cluster_size.numpy()
    details = rvq.quantize_details(z, training=True)
    used = details["levels_used"].numpy()
    assert set(np.unique(used)) == {1, 2, 3}
    assert all(0.28 < np.mean(used == n) < 0.39 for n in (1, 2, 3))  # uniform: 1/3 each, sd 0.009
    indices, _, _ = _numpy_rvq(z, codebooks)
    masked_total = sum(codebooks[i][indices[:, i]] * (used > i)[:, None] for i in range(3))
    np.testing.assert_allclose(details["quantized"].numpy(), masked_total, atol=1e-5)
    # The second level's EMA counts only the examples that use it.
    counts = np.bincount(indices[used >= 2, 1], minlength=8)
    np.testing.assert_allclose(rvq.levels[1].ema_cluster_size.numpy(), 0.99 * size_before + 0.01 * counts,
                               rtol=1e-5)
    losses = details["levels_loss"].numpy()
    assert np.all(losses[used == 1][:, 1:] == 0) and np.all(losses[used == 3] > 0)
    again = rvq.quantize_details(z, training=True)["levels_used"].numpy()
    assert np.mean(again != used) > 0.5  # fresh draws each step


def test_a_vqvae_with_residual_vq_trains_exports_and_has_a_prior_and_a_bound(tmp_path):
    model = tfvae.VQVAE.conv((8, 8, 1), num_embeddings=16, embedding_dim=4, quantizer="rvq", num_quantizers=3,
                             hidden_filters=8, residual_filters=4, num_residual_blocks=1, seed=0)
    assert model.grid_shape == (2, 6)  # each position's three indices side by side
    x = (rng.random((32, 8, 8, 1)) < 0.4).astype("float32")
    model.compile(keras.optimizers.Adam(1e-3))
    logs = model.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert {f"codebook_usage_level_{i}" for i in (1, 2, 3)} <= set(logs)
    codes = model.encode(x).numpy()
    assert codes.shape == (32, 2, 6)
    levels = model.quantizer.get_code_indices(model.encoder(x)).numpy()
    np.testing.assert_array_equal(codes, levels.reshape(32, 2, 6))
    np.testing.assert_allclose(model.decode(codes).numpy(), model.reconstruct(x).numpy(), atol=1e-5)
    check_vqvae_save_and_tflite(model, x, tmp_path)
    prior = tfvae.PixelCNNPrior(model.grid_shape, model.num_embeddings, filters=8, num_layers=2)
    prior.compile(keras.optimizers.Adam(1e-3))
    prior.fit(codes, batch_size=8, epochs=1, verbose=0)
    images, sampled = tfvae.generative.sample_images(model, prior, 3, seed=0)
    assert images.shape == (3, 8, 8, 1) and sampled.shape == (3, 2, 6)
    x8 = np.round(x * 255) / 255
    bound = tfvae.generative.nll_bound(model, prior, x8, observation_scale=0.3)
    np.testing.assert_allclose(bound["prior_nats"], -prior.log_prob(codes).numpy(), rtol=1e-5)


def test_two_replicas_train_residual_vq_as_one_device():
    out = run_python(
        """
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfvae.layers import ResidualVectorQuantizer

        rng = np.random.default_rng(0)
        batches = [rng.normal(size=(24, 4)).astype("float32") for _ in range(3)]
        single = ResidualVectorQuantizer(3, 8, 4, seed=1)
        single.build((None, 4))
        initial = [w.numpy() for w in single.weights]
        for b in batches:
            single(b, training=True)
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            mirrored = ResidualVectorQuantizer(3, 8, 4, seed=1)
            mirrored.build((None, 4))
            for w, v in zip(mirrored.weights, initial):
                w.assign(v)
        step = tf.function(lambda x: mirrored(x, training=True))
        for b in batches:
            parts = strategy.experimental_distribute_values_from_function(
                lambda ctx, b=b: b[:15] if ctx.replica_id_in_sync_group == 0 else b[15:])  # uneven halves
            strategy.run(step, args=(parts,))
        for a, s in zip(mirrored.weights, single.weights):
            np.testing.assert_allclose(a.numpy(), s.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)
        print("ok")
        """
    )
    assert "ok" in out


def test_residual_vq_stays_float32_under_mixed_precision():
    x = (rng.random((16, 8, 8, 1)) < 0.4).astype("float32")
    fit_under_mixed_float16(lambda: tfvae.VQVAE.conv(
        (8, 8, 1), num_embeddings=16, embedding_dim=4, quantizer="rvq", num_quantizers=2, hidden_filters=8,
        residual_filters=4, num_residual_blocks=1), x)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_quantizers=0, num_embeddings=8, embedding_dim=4), "num_quantizers"),
    (dict(num_quantizers=2, num_embeddings=8, embedding_dim=4, quantizer="fsq"), "quantizer"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResidualVectorQuantizer(**kwargs)


def test_rvq_by_name_refuses_num_quantizers_elsewhere_and_round_trips_its_config():
    with pytest.raises(ValueError, match="`num_quantizers` is residual VQ's"):
        tfvae.VQVAE.conv((8, 8, 1), quantizer="vq", num_quantizers=2)
    rvq = ResidualVectorQuantizer(2, 8, 4, shared_codebook=True, quantizer_dropout=True, seed=3)
    again = ResidualVectorQuantizer.from_config(rvq.get_config())
    assert again.get_config() == rvq.get_config()


@pytest.mark.parametrize("quantizer, extra", [("fsq", ["--levels", "4", "4"]), ("lfq", []),
                                              ("rvq", ["--num-quantizers", "2"])])
def test_the_command_line_trains_each_quantizer_by_name_with_its_prior(quantizer, extra, tmp_path):
    import contextlib
    import io
    import json

    from tfvae import cli

    np.savez(tmp_path / "digits.npz", images=rng.integers(0, 256, (80, 8, 8), dtype=np.uint8))
    argv = ["train", "vqvae", "--dataset", tmp_path / "digits.npz", "--quantizer", quantizer, *extra,
            "--num-embeddings", "16", "--embedding-dim", "4", "--hidden-filters", "8", "--residual-filters", "4",
            "--residual-blocks", "1", "--epochs", "1", "--prior-epochs", "1", "--prior-filters", "8",
            "--prior-layers", "1", "--num-samples", "4", "--output-dir", tmp_path / "out", "--no-export",
            "--verbose", "0"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([str(a) for a in argv]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["quantizer"] == quantizer and np.isfinite(results["test_nll_bound_bits_per_dim"])
