import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfvae
from tests.helpers import run_docstring_example, run_python

rng = np.random.default_rng(0)
K = 6


def _prior(**kwargs):
    args = dict(grid_shape=(4, 5), num_embeddings=K, filters=8, num_layers=5, kernel_size=3)
    args.update(kwargs)
    return tfvae.PixelCNNPrior(**args)


def _codes(n=8, shape=(4, 5)):
    return rng.integers(0, K, size=(n, *shape)).astype("int32")


def test_logits_depend_only_on_earlier_codes_and_on_all_of_them():
    """The receptive field at (i, j) is exactly the codes before (i, j) in raster order.

    "Nothing at or after (i, j)" is checked on the logits themselves. "Everything
    before" is checked on the features that enter the output head: the head is
    1x1 convolutions (pointwise, so it cannot widen or narrow the receptive
    field) behind two ReLUs that are dead at a position on some weight draws,
    which would zero the gradient by chance. Before the head lie only the gated
    units tanh * sigmoid, whose derivatives are never exactly zero.
    """
    prior = _prior()
    h, w = prior.grid_shape
    embedded = tf.Variable(prior.embedding(_codes(1)))

    def head_features(x):
        stream, skips = x, 0.0
        for block, feed in zip(prior.blocks, prior._vertical(x, None)):
            stream, skip = block.horizontal(stream, feed)
            skips = skips + skip
        return skips + stream

    def influence(output, i, j):
        with tf.GradientTape() as tape:
            out = output(embedded)[0, i, j]
            target = tf.reduce_sum(out * rng.normal(size=out.shape[-1]).astype("float32"))
        return np.any(tape.gradient(target, embedded).numpy()[0] != 0, axis=-1).reshape(-1)

    def logits(x):
        return prior._horizontal(x, prior._vertical(x, None), None)

    for i in range(h):
        for j in range(w):
            assert not np.any(influence(logits, i, j)[i * w + j:]), f"({i}, {j}) sees a code at or after itself"
            seen = influence(head_features, i, j)
            assert not np.any(seen[i * w + j:]), f"({i}, {j}) sees a code at or after itself"
            assert np.all(seen[: i * w + j]), f"({i}, {j}) has a blind spot"


def test_log_prob_equals_hand_computed_categorical_log_likelihood():
    prior = _prior()
    codes = _codes(3)
    logits = prior(codes).numpy().astype(np.float64)
    log_softmax = (
        logits
        - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True))
        - logits.max(-1, keepdims=True)
    )
    expected = np.take_along_axis(log_softmax, codes[..., None], axis=-1)[..., 0].sum(axis=(1, 2))
    np.testing.assert_allclose(prior.log_prob(codes).numpy(), expected, rtol=1e-5)
    dist = prior.distribution(codes)
    assert isinstance(dist, tfp.distributions.Independent)
    assert tuple(dist.event_shape) == (4, 5) and tuple(dist.batch_shape) == (3,)


def test_training_reports_nats_per_grid_and_bits_per_code():
    prior = _prior()
    prior.compile(keras.optimizers.Adam(1e-2))
    codes = np.tile(_codes(4), (8, 1, 1))  # a few repeated grids: learnable
    history = prior.fit(codes, batch_size=8, epochs=8, verbose=0)
    assert set(history.history) == {"loss", "bits_per_code"}
    np.testing.assert_allclose(
        history.history["bits_per_code"][0], history.history["loss"][0] / (20 * np.log(2)), rtol=1e-5
    )
    assert history.history["loss"][-1] < history.history["loss"][0]
    result = prior.evaluate(codes, batch_size=8, return_dict=True, verbose=0)
    np.testing.assert_allclose(result["loss"], -prior.log_prob(codes).numpy().mean(), rtol=1e-4)


@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_compiled_sampler_equals_naive_sampler(conditional, temperature):
    prior = _prior(num_classes=3 if conditional else None)
    prior.compile(keras.optimizers.Adam(1e-2), jit_compile=False)  # training is incidental here: skip XLA's compile
    if conditional:
        prior.fit(_codes(16), rng.integers(0, 3, 16), batch_size=8, epochs=2, verbose=0)
    else:
        prior.fit(_codes(16), batch_size=8, epochs=2, verbose=0)
    labels = np.array([0, 1, 2, 2, 1]) if conditional else None
    fast = prior.sample(5, seed=11, temperature=temperature, labels=labels).numpy()
    naive = prior.sample_naive(5, seed=11, temperature=temperature, labels=labels).numpy()
    assert fast.shape == (5, 4, 5) and fast.dtype == np.int32
    np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast, prior.sample(5, seed=11, temperature=temperature, labels=labels).numpy())
    assert not np.array_equal(fast, prior.sample(5, seed=12, temperature=temperature, labels=labels).numpy())


@pytest.mark.parametrize("temperature", [1.0, 0.6])
def test_samples_follow_the_model_distribution(temperature):
    """Codes drawn by `sample` have the model's conditional frequencies (chi-square, fixed seeds)."""
    import scipy.stats

    prior = _prior(grid_shape=(2, 2), num_layers=2)
    # An untrained prior is nearly uniform; skew its logits so that a mode-picker or a
    # wrong temperature would be caught.
    bias = prior.head_logits.bias
    bias.assign(np.linspace(-1.5, 1.5, K).astype("float32"))
    n = 6000
    grids = prior.sample(n, seed=5, temperature=temperature).numpy()

    def expected(first):
        grid = np.zeros((1, 2, 2), "int32")
        grid[0, 0, 0] = first
        logits = prior(grid).numpy()[0].astype(np.float64) / temperature
        p = np.exp(logits - logits.max(-1, keepdims=True))
        return p / p.sum(-1, keepdims=True)

    # Position (0, 0) sees no code; position (0, 1) given the most frequent first code.
    first = np.bincount(grids[:, 0, 0], minlength=K)
    assert scipy.stats.chisquare(first, n * expected(0)[0, 0]).pvalue > 1e-3
    mode = int(first.argmax())
    second = np.bincount(grids[grids[:, 0, 0] == mode, 0, 1], minlength=K)
    assert scipy.stats.chisquare(second, second.sum() * expected(mode)[0, 1]).pvalue > 1e-3
    # The same numbers through the exported path's entry point give the same grids.
    noise = tf.random.stateless_uniform([n, 4], seed=[5, 0], alg="philox")
    np.testing.assert_array_equal(prior.sample_from_noise(noise, temperature).numpy(), grids)


def _masked_reference_logits(prior, codes, labels=None):
    """The prior's logits from the paper's formulation: full kernels times their masks,
    'same' convolutions and an explicit one-row shift; independent of the cropped kernels."""
    from tfvae.layers.masked_conv2d import causal_mask

    def masked(conv, x):
        mask = causal_mask(*conv.kernel_size, conv.mask_type)[:, :, None, None]
        return tf.nn.conv2d(x, conv.kernel * mask, 1, "SAME") + conv.bias

    def conv1x1(conv, x):
        return tf.nn.conv2d(x, conv.kernel, 1, "VALID") + conv.bias

    def gate(x):
        a, b = tf.split(x, 2, axis=-1)
        return tf.tanh(a) * tf.sigmoid(b)

    v = h = tf.gather(prior.embedding.embeddings, codes)
    one_hot = None if labels is None else tf.one_hot(labels, prior.num_classes)
    skips = 0.0
    for block in prior.blocks:
        v_pre = masked(block.v_conv, v)
        if one_hot is not None:
            v_pre += tf.matmul(one_hot, block.v_label.kernel)[:, None, None]
        shifted = tf.concat([tf.zeros_like(v_pre[:, :1]), v_pre[:, :-1]], axis=1)
        h_pre = masked(block.h_conv, h) + conv1x1(block.v_to_h, shifted)
        if one_hot is not None:
            h_pre += tf.matmul(one_hot, block.h_label.kernel)[:, None, None]
        gated = gate(h_pre)
        out = conv1x1(block.h_out, gated) + (0.0 if block.first else h)
        skips += conv1x1(block.skip, gated)
        v, h = gate(v_pre), out
    hidden = tf.nn.relu(conv1x1(prior.head_hidden, tf.nn.relu(skips + h)))
    return conv1x1(prior.head_logits, hidden)


@pytest.mark.parametrize("kernel_size, conditional", [(3, False), (5, True), (1, False)])
def test_cropped_kernels_give_the_masked_networks_logits(kernel_size, conditional):
    """The prior convolves with the kept part of each causal kernel only; its logits are
    those of the masked full kernels (same weights), and its sampler the naive loop's."""
    prior = _prior(kernel_size=kernel_size, num_classes=3 if conditional else None, num_layers=3)
    codes = _codes(4)
    labels = np.array([0, 2, 1, 1]) if conditional else None
    logits = prior((codes, labels) if conditional else codes).numpy()
    np.testing.assert_allclose(logits, _masked_reference_logits(prior, codes, labels).numpy(), rtol=1e-5, atol=1e-5)
    fast = prior.sample(4, seed=3, labels=labels, jit_compile=False).numpy()
    np.testing.assert_array_equal(fast, prior.sample_naive(4, seed=3, labels=labels).numpy())


def _join_background_compilations():
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith("tfvae-xla-sampler"):
            thread.join()


def test_auto_sampler_never_waits_for_xla_and_later_sizes_do_not_recompile():
    prior = _prior(num_layers=2)
    first = prior.sample(3, seed=4).numpy()  # the graph sampler; XLA compiles for bucket 8 meanwhile
    _join_background_compilations()
    assert prior._sampler.compiled == {8}
    # Bucket 8 is compiled: sizes up to 8 run under XLA, padded; none traces again.
    for n in (3, 5, 8):
        grids = prior.sample(n, seed=4).numpy()
        np.testing.assert_array_equal(grids, prior.sample(n, seed=4, jit_compile=False).numpy())
    np.testing.assert_array_equal(prior.sample(3, seed=4).numpy(), first)
    assert prior._sampler.xla.experimental_get_tracing_count() == 1
    assert prior._sampler.graph.experimental_get_tracing_count() == 1
    # Larger requests go in chunks of the largest bucket; each grid depends only on its own noise.
    noise = tf.random.stateless_uniform([1030, 20], seed=[1, 0], alg="philox")
    chunked = prior._sampler(noise, tf.constant(1.0), tf.zeros([1030], tf.int32), True).numpy()
    np.testing.assert_array_equal(chunked[1024:], prior.sample_from_noise(noise[1024:]).numpy())
    _join_background_compilations()


def test_xla_sampler_gives_the_same_grids():
    prior = _prior(num_classes=3)
    labels = np.array([0, 1, 2, 0])
    plain = prior.sample(4, seed=2, labels=labels, jit_compile=False).numpy()
    np.testing.assert_array_equal(prior.sample(4, seed=2, labels=labels, jit_compile=True).numpy(), plain)
    with pytest.raises(ValueError, match="jit_compile"):
        prior.sample(4, seed=2, jit_compile="yes")


def test_low_temperature_sampling_picks_the_mode():
    prior = _prior(num_layers=2)
    grids = prior.sample(2, seed=0, temperature=1e-4).numpy()
    logits = prior(grids).numpy()
    # Sampling at temperature T is argmax(logits / T + Gumbel noise), so the chosen logit is within
    # T * (Gumbel gap) of the best; a gap above 20 has probability ~1e-9. (Ties: an untrained
    # prior's logits can be equal, so compare values, not indices.)
    chosen = np.take_along_axis(logits, grids[..., None], axis=-1)[..., 0]
    assert np.all(chosen >= logits.max(-1) - 20 * 1e-4)


@pytest.mark.parametrize(
    "codes, match",
    [(np.zeros((2, 4, 5), "float32"), "integers"), (np.zeros((2, 5, 4), "int32"), "shape"),
     (np.full((2, 4, 5), K, "int32"), r"\[0, 6\)")],
)
def test_bad_codes_raise_value_error(codes, match):
    prior = _prior()
    with pytest.raises(ValueError, match=match):
        prior.log_prob(codes)
    prior.compile("adam")
    # Dtype and shape are refused when the step is traced; values stop Keras inside the step.
    with pytest.raises(tf.errors.InvalidArgumentError if "0, 6" in match else ValueError, match=match):
        prior.fit(codes, batch_size=2, verbose=0)


def test_labels_are_required_and_checked_when_conditional():
    prior = _prior(num_classes=3)
    with pytest.raises(ValueError, match="labels"):
        prior.log_prob(_codes(2))
    with pytest.raises(ValueError, match="labels must"):
        prior.sample(2, labels=[0, 3])
    with pytest.raises(ValueError, match="unconditional"):
        _prior().sample(2, labels=[0, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(grid_shape=(4,)), "grid_shape"), (dict(num_embeddings=1), "num_embeddings"),
     (dict(num_layers=0), "num_layers"), (dict(kernel_size=4), "kernel_size"), (dict(num_classes=1), "num_classes")],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _prior(**kwargs)


@pytest.mark.parametrize("args", [dict(n=0), dict(n=2, temperature=0.0), dict(n=2, seed=1.5)])
def test_rejects_bad_sampling_arguments(args):
    with pytest.raises(ValueError):
        _prior().sample(**args)


def test_config_and_keras_file_round_trip_in_a_fresh_process(tmp_path):
    prior = _prior(num_classes=2)
    assert tfvae.PixelCNNPrior.from_config(prior.get_config()).get_config() == prior.get_config()
    codes, labels = _codes(6), rng.integers(0, 2, 6).astype("int32")
    prior.compile("adam")
    prior.fit(codes, labels, batch_size=3, epochs=1, verbose=0)
    prior.save(tmp_path / "prior.keras")
    np.savez(tmp_path / "ref.npz", codes=codes, labels=labels, logp=prior.log_prob(codes, labels).numpy(),
             samples=prior.sample(3, seed=5, labels=1).numpy())
    out = run_python(
        """
        import sys, numpy as np, keras
        import tfvae  # registers the classes
        d = sys.argv[1]
        ref = np.load(f"{d}/ref.npz")
        prior = keras.saving.load_model(f"{d}/prior.keras")
        np.testing.assert_allclose(prior.log_prob(ref["codes"], ref["labels"]).numpy(), ref["logp"], rtol=1e-5)
        np.testing.assert_array_equal(prior.sample(3, seed=5, labels=1).numpy(), ref["samples"])
        print("ok", type(prior).__name__, prior.num_classes)
        """,
        args=(str(tmp_path),),
    )
    assert "ok PixelCNNPrior 2" in out


def test_the_docstring_example_runs():
    assert run_docstring_example(tfvae.PixelCNNPrior) >= 7


def test_sampling_leaves_tensorflows_global_options_alone(monkeypatch):
    # tfvae 0.1 switched Grappler off process-wide for the graph sampler's first run, an unlocked
    # read-then-restore that two threads could leave switched off.
    calls = []
    monkeypatch.setattr(tf.config.optimizer, "set_experimental_options", lambda options: calls.append(options))
    before = tf.config.optimizer.get_experimental_options()
    priors = [_prior(), _prior()]
    threads = [threading.Thread(target=lambda p=p: p.sample(3, seed=1, jit_compile=False)) for p in priors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [] and tf.config.optimizer.get_experimental_options() == before


@pytest.mark.parametrize("num_classes", [None, 3])
@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
def test_every_draw_of_the_fast_sampler_is_the_full_pass_teacher_forced(kernel_size, num_classes):
    """At every position, the sampled code is the inverse-CDF draw of that position's noise from the full
    (teacher-forced) pass's logits on the grid sampled so far: a causal leak, a dropped label bias or a stale
    window in the one-pass sampler changes some draw."""
    gen = np.random.default_rng(kernel_size)
    prior = _prior(grid_shape=(5, 6), num_layers=3, kernel_size=kernel_size, num_classes=num_classes)
    for w in prior.weights:  # random weights of every kind, label projections included: sharp, varied logits
        w.assign(gen.normal(0.0, 0.6, w.shape).astype("float32"))
    n, temperature = 12, 0.8
    labels = gen.integers(0, num_classes, n).astype("int32") if num_classes else None
    noise = gen.random((n, 30)).astype("float32")
    for jit_compile in (False, True):
        grids = prior._sampler(tf.constant(noise), tf.constant(temperature),
                               tf.zeros([n], tf.int32) if labels is None else tf.constant(labels), jit_compile).numpy()
        logits = prior(grids if labels is None else (grids, labels)).numpy().astype(np.float64) / temperature
        p = np.exp(logits - logits.max(-1, keepdims=True))
        cdf = np.cumsum(p / p.sum(-1, keepdims=True), axis=-1).reshape(n, 30, K)
        u = noise.astype(np.float64)
        expected = (u[..., None] >= cdf).sum(-1).clip(max=K - 1)
        # Positions whose noise falls within float rounding of a bin edge could go either way: leave them out.
        near_edge = np.abs(u[..., None] - cdf).min(-1) < 1e-5
        assert near_edge.sum() <= 2
        got = grids.reshape(n, 30)
        np.testing.assert_array_equal(got[~near_edge], expected[~near_edge], err_msg=f"jit_compile={jit_compile}")
        assert len(np.unique(got)) > 1
