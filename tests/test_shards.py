"""Training steps in shards (proxnet.training.shards) and the threads that run them
(proxnet.parallel): the same gradients as one whole batch, the same bits on any number of
threads, and no sharding where a layer does not allow it."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import proxnet.training.shards as shards
from proxnet import Sequential, TrainingDivergedError
from proxnet.layers import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Tanh
from proxnet.parallel import num_threads, run_shards
from proxnet.regularizers import L1, L2
from proxnet.training.step import penalty_gradients
from proxnet.training.trainer import forward_backward


def _conv_model(dtype="float64", **kw):
    kw.setdefault("weight_regularizer", L2(1e-3))
    return Sequential([Conv2D(2, 4, 3, padding=1), ReLU(), MaxPool2D(2), Conv2D(4, 3, 3), Tanh(),
                       Flatten(), Dense(3 * 2 * 2, 8), ReLU(), Dense(8, 3)], seed=0, dtype=dtype, **kw)


def _images(rng, n=30):
    X = rng.normal(size=(n, 2, 8, 8))
    y = rng.integers(0, 3, n)
    return X, y


def _fit(model, X, y, **kw):
    args = dict(epochs=2, batch_size=10, seed=1, verbose=False)
    args.update(kw)
    return model.fit(X, y, **args)


def _per_shard(model, sample_shape, budget=None):
    return shards.samples_per_shard(model.layers, sample_shape, model.dtype.itemsize,
                                    shards.SHARD_BYTES if budget is None else budget)


def _force_shards(monkeypatch, model, sample_shape, per_shard, budget="SHARD_BYTES"):
    """Make ``budget`` (SHARD_BYTES or INFERENCE_SHARD_BYTES) hold exactly ``per_shard``
    samples of ``model``'s activations."""
    every = (1 << 40) // _per_shard(model, sample_shape, 1 << 40)   # bytes per sample
    monkeypatch.setattr(shards, budget, every * per_shard)
    assert _per_shard(model, sample_shape, every * per_shard) == per_shard


def _spy_on_run_shards(monkeypatch):
    """A list that records the shard count of every run_shards call of the model."""
    calls = []
    real = shards.run_shards
    monkeypatch.setattr(shards, "run_shards", lambda fn, n: calls.append(n) or real(fn, n))
    return calls


# -- how a batch is cut ---------------------------------------------------------------------------
@pytest.mark.parametrize("n, per_shard, sizes", [
    (64, 64, [64]), (64, 100, [64]), (64, 32, [32, 32]), (64, 40, [32, 32]),
    (64, 25, [16, 16, 16, 16]),            # 3 needed -> 4: an even count keeps two threads busy
    (10, 3, [3, 3, 2, 2]), (3, 1, [1, 1, 1]), (1, 1, [1]), (7, None, [7])])
def test_shard_bounds_are_even_balanced_and_cover_the_batch(n, per_shard, sizes):
    bounds = shards.shard_bounds(n, per_shard)
    assert [b - a for a, b in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(b0[1] == b1[0] for b0, b1 in zip(bounds, bounds[1:]))


def test_samples_per_shard_counts_every_activation(rng):
    model = _conv_model("float32")
    # per sample: input 2·8·8, conv 4·8·8, relu 4·8·8, pool 4·4·4, conv 3·2·2, tanh 3·2·2,
    # flatten 12, dense 8, relu 8, dense 3
    values = 128 + 256 + 256 + 64 + 12 + 12 + 12 + 8 + 8 + 3
    assert _per_shard(model, (2, 8, 8)) == shards.SHARD_BYTES // (values * 4)
    assert _per_shard(_conv_model("float64"), (2, 8, 8)) == shards.SHARD_BYTES // (values * 8)


def test_a_layer_that_is_not_shardable_keeps_batches_whole():
    model = Sequential([Dense(4, 8), ReLU(), Dropout(0.5), Dense(8, 2)], seed=0)
    assert _per_shard(model, (4,)) is None
    assert shards.shard_bounds(1000, None) == [(0, 1000)]


# -- the same training, whole or in shards ---------------------------------------------------------------
def test_sharded_training_matches_whole_batches_to_float64_precision(rng, monkeypatch):
    X, y = _images(rng)
    whole = _conv_model(optimizer={"kind": "adam", "lr": 1e-2})
    h_whole = _fit(whole, X, y, eval_train=False)
    sharded = _conv_model(optimizer={"kind": "adam", "lr": 1e-2})
    _force_shards(monkeypatch, sharded, (2, 8, 8), 3)            # batches of 10 -> 4 shards (3, 3, 2, 2)
    calls = _spy_on_run_shards(monkeypatch)
    h_sharded = _fit(sharded, X, y, eval_train=False)
    assert calls and set(calls) == {4}
    for (name, a), (_, b) in zip(whole.named_parameters(), sharded.named_parameters()):
        np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(h_sharded["data_loss"], h_whole["data_loss"], rtol=1e-12)
    assert h_sharded["train_accuracy"] == h_whole["train_accuracy"]      # running score, summed by shard
    for name in h_whole.grad_norms:
        np.testing.assert_allclose(h_sharded.grad_norms[name], h_whole.grad_norms[name], rtol=1e-10)


def test_sharded_gradient_equals_the_whole_batch_gradient(rng, monkeypatch):
    X, y = _images(rng, 12)
    model = _conv_model()
    ref_loss, ref = model.loss_and_grads(X, y)             # one whole batch
    model.layers[0].input_grad = False
    _force_shards(monkeypatch, model, (2, 8, 8), 5)
    sharded = shards.Shards(model.layers, (2, 8, 8), 8, 12)
    assert len(sharded.bounds(12)) == 4
    loss, _ = sharded.gradient(lambda layers, Xs, ys, w: forward_backward(layers, model.loss_fn, Xs, ys, w),
                               X, y)
    model.layers[0].input_grad = True
    grads = penalty_gradients(dict(model.named_parameters()), dict(model.named_gradients()),
                              model.regularizers())
    assert loss + model.regularization_loss() == pytest.approx(ref_loss, rel=1e-13)
    for name, g in grads.items():
        np.testing.assert_allclose(g, ref[name], rtol=1e-11, atol=1e-14, err_msg=name)


def test_replicas_share_parameters_but_not_gradients():
    conv = Conv2D(2, 3, 3, dtype="float64")
    twin = conv.replica()
    assert twin.params is conv.params and twin.grads is not conv.grads
    x = np.ones((2, 2, 5, 5))
    twin.forward(x, training=True)
    twin.backward(np.ones((2, 3, 3, 3)))
    assert "W" in twin.grads and twin._workspace is not conv._workspace
    conv.params["W"] = conv.params["W"] * 2                 # an optimizer step replaces the array
    assert twin.params["W"] is conv.params["W"]


@pytest.mark.parametrize("per_shard", [None, 5])
def test_fit_computes_no_input_gradient_of_the_first_layer_in_any_shard(rng, monkeypatch, per_shard):
    # The replicas are copies of the layers: they must be made after fit turned the first
    # layer's input gradient off, or every shard computes (and discards) it.
    import proxnet.layers.conv as conv_layer
    model = _conv_model()
    X, y = _images(rng)
    if per_shard is not None:
        _force_shards(monkeypatch, model, X.shape[1:], per_shard)
    calls = _spy_on_run_shards(monkeypatch)
    first = []
    real = conv_layer.conv2d_backward
    monkeypatch.setattr(conv_layer, "conv2d_backward", lambda dout, cache, need_dx=True: first.append(
        need_dx) or real(dout, cache, need_dx) if cache[2]["C"] == 2 else real(dout, cache, need_dx))
    _fit(model, X, y, epochs=1)
    assert first and not any(first)
    assert (max(calls, default=1) > 1) == (per_shard is not None)
    assert model.layers[0].input_grad            # restored after fit


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_are_bit_identical_on_one_and_two_threads(rng, monkeypatch, dtype):
    X, y = _images(rng, 40)
    runs = []
    for threads in (1, 2, 1):
        model = _conv_model(dtype, weight_regularizer=L1(1e-3, mode="prox"),
                            optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9})
        _force_shards(monkeypatch, model, (2, 8, 8), 4)
        with threadpool_limits(threads):
            if num_threads() != threads:
                pytest.skip(f"BLAS allows {num_threads()} thread(s) here, not {threads}")
            _fit(model, X, y, epochs=3, batch_size=16)
        runs.append([p.copy() for _, p in model.named_parameters()])
    for a, b in zip(runs[0], runs[1]):
        assert np.array_equal(a, b)
    for a, b in zip(runs[0], runs[2]):
        assert np.array_equal(a, b)


def test_divergence_in_a_shard_is_caught_and_keeps_the_last_good_weights(rng, monkeypatch):
    X, y = _images(rng)
    model = _conv_model("float32", optimizer={"kind": "sgd", "lr": 1e4})
    _force_shards(monkeypatch, model, (2, 8, 8), 2)
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, step \d+"):
        with np.errstate(all="ignore"):
            _fit(model, X * 1e3, y, epochs=30)
    for _, v in model.named_parameters():
        assert np.isfinite(v).all()


# -- run_shards ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_run_shards_returns_results_in_shard_order(threads):
    assert run_shards(lambda i: i * i, 7, threads=threads) == [i * i for i in range(7)]
    assert run_shards(lambda i: i, 0, threads=threads) == []


def test_run_shards_raises_a_shard_error_after_the_other_thread_finishes():
    done = []

    def work(i):
        if i == 1:
            raise ValueError("shard 1 failed")
        done.append(i)
        return i

    with pytest.raises(ValueError, match="shard 1 failed"):
        run_shards(work, 4, threads=2)
    assert sorted(done) == [0, 2]      # the calling thread's shards; 3 came after 1 on the other


def _blas_threads():
    """NumPy's BLAS threads, asked of the library itself."""
    from proxnet.parallel import _blas_controller
    return max(c.num_threads for c in _blas_controller().lib_controllers)


def test_run_shards_limits_blas_to_one_thread_inside_and_restores_it():
    with threadpool_limits(2):
        before = num_threads()
        inside = run_shards(lambda i: (_blas_threads(), num_threads()), 2, threads=2)
        assert inside == [(1, 2), (1, 2)]    # BLAS on one thread; the shards' count is kept
        assert num_threads() == before == _blas_threads() == 2


def test_run_shards_carries_the_callers_errstate_to_every_thread():
    def divide(i):    # shard 1 runs on the worker thread
        return np.float64(i) / np.float64(0.0) if i == 1 else None

    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            run_shards(divide, 2, threads=2)
    with np.errstate(divide="ignore"):
        assert run_shards(divide, 2, threads=2) == [None, np.inf]


# -- inference in shards ----------------------------------------------------------------------------
def test_inference_shards_match_one_batch_and_do_not_depend_on_threads(rng, monkeypatch):
    X, y = _images(rng, 50)
    model = _conv_model()
    whole = model.forward(X)
    _force_shards(monkeypatch, model, (2, 8, 8), 7, "INFERENCE_SHARD_BYTES")
    calls = _spy_on_run_shards(monkeypatch)
    outs = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            outs.append(shards.forward_batched(model.layers, X, 8, batch_size=30))   # 30 -> 6 shards, 20 -> 4
    assert calls == [6, 4, 6, 4]
    np.testing.assert_allclose(outs[0], whole, rtol=1e-12, atol=1e-14)
    assert np.array_equal(outs[0], outs[1])
    assert model.evaluate(X, y)["accuracy"] == np.mean(whole.argmax(axis=1) == y)


def test_the_cuts_the_guide_describes():
    from proxnet.architectures import lenet5, mlp
    lenet = lenet5(variant="compact", seed=0)
    assert shards.shard_bounds(64, _per_shard(lenet, (1, 28, 28))) == [(0, 32), (32, 64)]
    net = mlp([784, 128, 128, 128, 10], seed=0)
    assert shards.shard_bounds(128, _per_shard(net, (784,))) == [(0, 128)]



@pytest.mark.parametrize("layers, batch", [
    (lambda: [Dense(20, 64), ReLU(), Dense(64, 3)], 16),                       # one shard
    (lambda: [Dense(20, 64), ReLU(), Dropout(0.3), Dense(64, 3)], 100),         # not shardable
    (lambda: [Dense(20, 2048), ReLU(), Dense(2048, 3)], 200),                   # two shards
])
def test_no_result_depends_on_the_thread_count(layers, batch):
    """Whole batches too: their products run with single-threaded BLAS (OpenBLAS's differ in
    the last bits between 1 and 2 threads)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 20)).astype(np.float32), rng.integers(0, 3, 300)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            model = Sequential(layers(), seed=0, optimizer={"kind": "adam", "lr": 1e-2})
            h = model.fit(X, y, epochs=2, batch_size=batch, validation_data=(X, y), seed=0, verbose=False)
            runs.append(([v.tobytes() for _, v in model.named_parameters()], h["val_loss"],
                         model.predict_proba(X).tobytes()))
    assert runs[0] == runs[1]
