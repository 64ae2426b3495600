"""Conv2D, MaxPool2D and AvgPool2D: gradient checks, the PyTorch oracle, errors, buffers."""
import copy
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import proxnet.functional.conv as conv_module
from proxnet.functional.conv import conv2d_backward, conv2d_forward
from proxnet.functional.pool import (avg_pool2d_backward, avg_pool2d_forward,
                                     max_pool2d_backward, max_pool2d_forward)
from proxnet.gradcheck import TOLERANCE, check_layer
from proxnet.layers import LAYERS, AvgPool2D, Conv2D, MaxPool2D

ORACLE_TOL = 1e-10

# (C, F, H, W, kernel, stride, padding, bias)
CONV_CASES = [
    (2, 3, 6, 6, 3, 1, 0, True),
    (2, 3, 7, 5, 3, 2, 1, True),            # odd sizes, stride 2, padding 1
    (1, 2, 5, 7, (2, 3), (1, 2), (1, 0), True),   # rectangular everything
    (3, 2, 6, 5, (3, 1), (2, 1), (0, 2), False),  # no bias
    (2, 4, 4, 4, 1, 1, 0, True),            # 1×1 kernel
    (1, 2, 5, 5, 5, 1, 2, True),            # kernel = image, "same" padding
    (2, 2, 9, 8, 3, 3, 0, True),            # stride = kernel, leftover rows/columns
]
CONV_IDS = [f"C{c[0]}F{c[1]}-{c[2]}x{c[3]}-k{c[4]}-s{c[5]}-p{c[6]}-b{int(c[7])}" for c in CONV_CASES]

# (H, W, kernel, stride)
POOL_CASES = [
    (6, 6, 2, None),        # LeNet's 2×2 / 2
    (7, 5, 2, None),        # odd sizes: last row/column dropped (floor mode)
    (7, 7, 3, 2),           # overlapping windows
    (5, 6, 3, 1),           # heavy overlap
    (6, 7, (2, 3), (1, 2)),  # rectangular
    (8, 7, 2, 3),           # stride > kernel: gaps
    (4, 4, 1, None),        # 1×1
    (9, 6, 3, None),        # 3×3 windows tiling both axes (three staged offsets)
    (6, 7, 2, None),        # windows tile the rows but not the columns
]
POOL_IDS = [f"{c[0]}x{c[1]}-k{c[2]}-s{c[3]}" for c in POOL_CASES]


def _conv(case, seed=0, dtype="float64"):
    C, F, H, W, k, s, p, bias = case
    return Conv2D(C, F, k, stride=s, padding=p, bias=bias, seed=seed, dtype=dtype)


def _distinct(rng, shape):
    """Values spaced ≥ 1/size apart: no two entries of a window within h of each other."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) / np.prod(shape) - 0.5


# -- gradient checks (float64, centred differences) -------------------------------------------------
@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_gradcheck(case, rng):
    C, F, H, W = case[:4]
    layer = _conv(case)
    layer.params["b" if case[7] else "W"][...] += 0.1  # non-zero biases
    errs = check_layer(layer, rng.normal(size=(2, C, H, W)))
    assert set(errs) == ({"x", "W", "b"} if case[7] else {"x", "W"})
    assert max(errs.values()) < TOLERANCE, errs


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
def test_pool_gradcheck(cls, case, rng):
    H, W, k, s = case
    errs = check_layer(cls(k, s), _distinct(rng, (2, 3, H, W)))
    assert set(errs) == {"x"}
    assert errs["x"] < TOLERANCE, errs


# -- PyTorch oracle (float64, 1e-10) ----------------------------------------------------------------
def _torch_conv(torch, layer, x, dout):
    xt = torch.tensor(x, requires_grad=True)
    Wt = torch.tensor(layer.params["W"], requires_grad=True)
    bt = torch.tensor(layer.params["b"], requires_grad=True) if layer.bias else None
    out = torch.nn.functional.conv2d(xt, Wt, bt, stride=layer.stride, padding=layer.padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), Wt.grad.numpy(), None if bt is None else bt.grad.numpy()


def _close(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=ORACLE_TOL)


def _forward_backward_like_torch(torch, layer, x, rng):
    """Forward and backward of ``layer`` on x with a random dout, each result checked
    against torch; returns (out, dx)."""
    out = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    dx = layer.backward(dout)
    t_out, t_dx, t_dW, t_db = _torch_conv(torch, layer, x, dout)
    _close(out, t_out)
    _close(dx, t_dx)
    _close(layer.grads["W"], t_dW)
    if layer.bias:
        _close(layer.grads["b"], t_db)
    return out, dx


@pytest.mark.parametrize("case", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_torch(torch, case, rng):
    C, F, H, W = case[:4]
    layer = _conv(case)
    if layer.bias:
        layer.params["b"][...] = rng.normal(size=F)
    out, dx = _forward_backward_like_torch(torch, layer, rng.normal(size=(3, C, H, W)), rng)
    assert out.flags.c_contiguous and dx.flags.c_contiguous


@pytest.mark.parametrize("case", POOL_CASES, ids=POOL_IDS)
@pytest.mark.parametrize("values", ["continuous", "integers"])
def test_pools_match_torch(torch, case, values, rng):
    """Integer-valued inputs make ties in most windows: the gradient goes to the first
    maximum in row-major order, as in torch."""
    H, W, k, s = case
    shape = (2, 3, H, W)
    x = rng.normal(size=shape) if values == "continuous" else rng.integers(0, 3, size=shape).astype(float)
    for cls, fn in ((MaxPool2D, torch.nn.functional.max_pool2d), (AvgPool2D, torch.nn.functional.avg_pool2d)):
        layer = cls(k, s)
        out = layer.forward(x, training=True)
        dout = rng.normal(size=out.shape)
        dx = layer.backward(dout)
        xt = torch.tensor(x, requires_grad=True)
        ot = fn(xt, layer.kernel_size, layer.stride)
        ot.backward(torch.tensor(dout))
        _close(out, ot.detach().numpy())
        _close(dx, xt.grad.numpy())


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.array([[[[1., 1., 0., 2.],
                    [1., 0., 2., 2.]]]])
    out, cache = max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(out, [[[[1., 2.]]]])
    dx = max_pool2d_backward(np.array([[[[10., 20.]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[10., 0., 0., 20.],
                                         [0., 0., 0., 0.]]]])


def test_functional_kernels_match_torch_in_float32(torch, rng):
    x = rng.normal(size=(4, 3, 10, 9)).astype(np.float32)
    W = rng.normal(size=(5, 3, 3, 3)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    out, cache = conv2d_forward(x, W, b, 1, 1)
    assert out.dtype == np.float32
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(W), torch.from_numpy(b), padding=1)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-5)
    dx, dW, db = conv2d_backward(np.ones_like(out), cache)
    assert dx.dtype == dW.dtype == db.dtype == np.float32
    for fwd, bwd in ((max_pool2d_forward, max_pool2d_backward), (avg_pool2d_forward, avg_pool2d_backward)):
        o, c = fwd(x, 2)
        assert o.dtype == np.float32 and bwd(np.ones_like(o), c).dtype == np.float32


# -- scratch buffers, inference chunks, copies ---------------------------------------------------------
def test_reused_buffers_never_leak_between_shapes(torch, rng):
    """Regression: the padded-input buffer was reused for any input with the same padded
    size, so a (4, 1, 4, 4) batch after a (1, 1, 10, 10) one kept stale values in its border."""
    layer = Conv2D(1, 2, 3, padding=1, seed=0, dtype="float64")
    for shape in [(1, 1, 10, 10), (4, 1, 4, 4), (1, 1, 10, 10), (3, 1, 5, 7), (3, 1, 5, 7)]:
        _forward_backward_like_torch(torch, layer, rng.normal(size=shape), rng)


def test_outputs_are_not_scratch_buffers(rng):
    layer = Conv2D(2, 3, 3, seed=0, dtype="float64")
    x = rng.normal(size=(2, 2, 6, 6))
    out1 = layer.forward(x, training=True)
    dx1 = layer.backward(np.ones_like(out1))
    keep_out, keep_dx = out1.copy(), dx1.copy()
    out2 = layer.forward(-x, training=True)
    layer.backward(np.full_like(out2, 2.0))
    np.testing.assert_array_equal(out1, keep_out)
    np.testing.assert_array_equal(dx1, keep_dx)


def test_threads_and_interleaved_layers_do_not_share_live_scratch(rng):
    """Scratch is per thread and shared by all layers of a thread: layers of different sizes
    interleaved as in a network (forward A, forward B, backward B, backward A), on several
    threads at once, give what each computes alone."""
    import threading
    a = Conv2D(2, 3, 3, padding=1, seed=0, dtype="float64")
    b = Conv2D(3, 4, 5, stride=(1, 2), seed=1, dtype="float64")
    xs = [rng.normal(size=(n, 2, 11, 12)) for n in (3, 7, 5, 9)]

    def run(x, la, lb):
        h = la.forward(x, training=True)
        out = lb.forward(h, training=True)
        dh = lb.backward(np.cos(out))
        return out, la.backward(dh), lb.grads["W"].copy(), la.grads["W"].copy()

    alone = [run(x, a.replica(), b.replica()) for x in xs]
    results = [None] * len(xs)

    def worker(i):
        la, lb = a.replica(), b.replica()
        for _ in range(20):
            results[i] = run(xs[i], la, lb)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, alone):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("case", CONV_CASES[:4], ids=CONV_IDS[:4])
@pytest.mark.parametrize("chunk_bytes", [1, 3000, None])
def test_sample_chunks_match_torch(torch, case, chunk_bytes, rng):
    """One sample per chunk, a few per chunk, and the default (one chunk here)."""
    C, F, H, W, k, s, p, bias = case
    layer = _conv(case)
    x = rng.normal(size=(5, C, H, W))
    b = rng.normal(size=F) if bias else None
    out, cache = conv2d_forward(x, layer.params["W"], b, s, p, chunk_bytes=chunk_bytes)
    dout = rng.normal(size=out.shape)
    dx, dW, db = conv2d_backward(dout, cache)
    if bias:
        layer.params["b"][...] = b
    t_out, t_dx, t_dW, t_db = _torch_conv(torch, layer, x, dout)
    _close(out, t_out)
    _close(dx, t_dx)
    _close(dW, t_dW)
    if bias:
        _close(db, t_db)


def test_inference_forward_matches_training_and_allows_backward(rng):
    layer = Conv2D(3, 4, 3, padding=1, seed=0, dtype="float64")
    x = rng.normal(size=(37, 3, 9, 8))
    train = layer.forward(x, training=True)
    dx_train = layer.backward(np.ones_like(train))
    workspace = dict(layer._workspace)
    infer = layer.forward(x, training=False)
    np.testing.assert_array_equal(infer, train)
    assert layer._workspace.keys() == workspace.keys()         # inference leaves it alone
    np.testing.assert_array_equal(layer.backward(np.ones_like(infer)), dx_train)


def test_copies_leave_scratch_buffers_behind(rng):
    layer = Conv2D(1, 2, 3, seed=0)
    layer.forward(rng.normal(size=(4, 1, 8, 8)), training=True)
    assert layer._workspace
    clone = copy.deepcopy(layer)
    assert clone._workspace == {} and clone._cache is None
    np.testing.assert_array_equal(clone.params["W"], layer.params["W"])


def test_first_layer_skips_the_input_gradient(rng):
    layer = Conv2D(1, 2, 3, seed=0)
    layer.input_grad = False
    out = layer.forward(rng.normal(size=(2, 1, 5, 5)), training=True)
    assert layer.backward(np.ones_like(out)) is None
    assert layer.grads["W"].shape == (2, 1, 3, 3)


@pytest.mark.parametrize("stride", [1, (2, 1), (1, 2)])
def test_weight_gradient_is_the_same_with_and_without_dx(stride, rng):
    """With dx, stride-1 columns take dW from the shifted dout; without dx (a first layer),
    from the full im2col matrix. Both give the same C-contiguous dW."""
    layer = Conv2D(3, 4, (3, 4), stride=stride, padding=1, seed=0, dtype="float64")
    x = rng.normal(size=(5, 3, 9, 10))
    out = layer.forward(x, training=True)
    dout = rng.normal(size=out.shape)
    layer.backward(dout)
    with_dx = layer.grads["W"].copy()
    layer.input_grad = False
    layer.forward(x, training=True)
    layer.backward(dout)
    np.testing.assert_allclose(layer.grads["W"], with_dx, rtol=1e-12, atol=1e-12)
    assert with_dx.flags.c_contiguous and layer.grads["W"].flags.c_contiguous


def test_rows_per_group_rule():
    from proxnet.functional.conv import _rows_per_group
    assert _rows_per_group(6, 1, 28, 5, 1) == 4       # LeNet-5's first layer
    assert _rows_per_group(6, 3, 10, 5, 1) == 2       # 10 rows: pairs
    assert _rows_per_group(6, 1, 7, 5, 1) == 1        # odd height
    assert _rows_per_group(16, 1, 28, 5, 1) == 1      # 16 filters fill the product already
    assert _rows_per_group(6, 8, 28, 5, 1) == 1       # 8 input channels: not worth it
    assert _rows_per_group(6, 1, 28, 1, 1) == 2       # 1×1 kernel: groups of 4 would quadruple the work
    assert _rows_per_group(6, 1, 28, 3, 2) == 2       # stride 2: groups of 4 need 9 kernel rows, not 3


@pytest.mark.parametrize("rows", [2, 4])
@pytest.mark.parametrize("stride", [1, (2, 1), (1, 2), 2])
@pytest.mark.parametrize("need_dx", [True, False])
def test_row_groups_compute_what_single_rows_do(monkeypatch, rows, stride, need_dx, rng):
    """Forced groups of 2 or 4 output rows (the forward pass, and dW when there is no dx)
    give what one row at a time gives, in float64, over both strides and chunks."""
    import proxnet.functional.conv as conv
    x = rng.normal(size=(5, 3, 16, 11))
    W = rng.normal(size=(4, 3, 3, 4))
    b = rng.normal(size=4)
    results = {}
    for m in (1, rows):
        monkeypatch.setattr(conv, "_rows_per_group", lambda F, C, OH, kh, sh, m=m: m)
        out, cache = conv2d_forward(x, W, b, stride, 1, chunk_bytes=20_000)
        assert cache[2]["rows"] == m and len(conv._chunks(cache[2])) > 1
        dout = np.cos(out)
        results[m] = (out, *conv2d_backward(dout, cache, need_dx=need_dx))
    for got, want in zip(results[rows], results[1]):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            assert got.flags.c_contiguous


# -- the layer objects -------------------------------------------------------------------------------
def test_registered_and_configs_round_trip():
    assert LAYERS.get_item("Conv2D") is Conv2D
    assert LAYERS.get_item("maxpool2d") is MaxPool2D and LAYERS.get_item("AvgPool2D") is AvgPool2D
    conv = Conv2D(3, 8, (3, 5), stride=(1, 2), padding=2, bias=False, init="xavier")
    cfg = conv.get_config()
    assert cfg == {"in_channels": 3, "out_channels": 8, "kernel_size": [3, 5], "stride": [1, 2],
                   "padding": 2, "bias": False, "init": "xavier"}
    assert Conv2D(**cfg).get_config() == cfg
    assert "Conv2D(in_channels=3" in repr(conv)
    for layer in (MaxPool2D(2), AvgPool2D((3, 2), stride=1)):
        assert type(layer)(**layer.get_config()).get_config() == layer.get_config()
    assert MaxPool2D(3).stride == (3, 3) and MaxPool2D(3, 1).stride == (1, 1)


def test_he_initialization_and_shapes():
    conv = Conv2D(4, 32, 3, seed=0)
    W = conv.params["W"]
    assert W.shape == (32, 4, 3, 3) and W.dtype == np.float32
    assert abs(W.std() - np.sqrt(2 / 36)) < 0.02                # fan_in = C·kh·kw
    np.testing.assert_array_equal(conv.params["b"], np.zeros(32))
    assert conv.output_shape((4, 28, 28)) == (32, 26, 26)
    assert Conv2D(1, 6, 5, padding=2).output_shape((1, 28, 28)) == (6, 28, 28)
    assert Conv2D(1, 2, 3, stride=2).output_shape((1, 8, 7)) == (2, 3, 3)
    assert MaxPool2D(2).output_shape((6, 28, 28)) == (6, 14, 14)
    assert AvgPool2D(3, 2).output_shape((6, 7, 8)) == (6, 3, 3)
    assert Conv2D(1, 2, 3, bias=False).params.keys() == {"W"}


def test_dtype_follows_the_weights(rng):
    conv = Conv2D(1, 2, 3, seed=0)                             # float32
    assert conv.forward(rng.normal(size=(2, 1, 5, 5))).dtype == np.float32
    conv.astype("float64")
    out = conv.forward(rng.normal(size=(2, 1, 5, 5)).astype(np.float32), training=True)
    assert out.dtype == np.float64
    assert conv.backward(np.ones_like(out)).dtype == np.float64
    assert MaxPool2D(2).forward(np.ones((1, 1, 4, 4), np.float32)).dtype == np.float32


@pytest.mark.parametrize("kwargs, match", [
    ({"kernel_size": 0}, "kernel_size"),
    ({"kernel_size": (3, 3, 3)}, "kernel_size"),
    ({"kernel_size": 2.5}, "kernel_size"),
    ({"kernel_size": True}, "kernel_size"),
    ({"kernel_size": 3, "stride": 0}, "stride"),
    ({"kernel_size": 3, "padding": -1}, "padding"),
    ({"kernel_size": 3, "padding": "same"}, "padding"),
])
def test_conv_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(1, 2, **kwargs)


def test_conv_channel_and_regularizer_errors():
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="in_channels"):
            Conv2D(bad, 2, 3)
        with pytest.raises(ValueError, match="out_channels"):
            Conv2D(1, bad, 3)
    with pytest.raises(ValueError, match="bias_regularizer"):
        Conv2D(1, 2, 3, bias=False, bias_regularizer={"kind": "l2", "lam": 0.1})


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_argument_errors(cls):
    for bad in (0, -1, (2, 0), (1, 2, 3), 1.0):
        with pytest.raises(ValueError, match="kernel_size"):
            cls(bad)
    with pytest.raises(ValueError, match="stride"):
        cls(2, 0)


def test_shape_errors_name_what_was_expected():
    conv = Conv2D(3, 4, 5)
    with pytest.raises(ValueError, match=r"expected shape \(N, 3, H, W\), got \(2, 1, 8, 8\)"):
        conv.forward(np.ones((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="flatten=False"):
        conv.forward(np.ones((2, 192)))
    with pytest.raises(ValueError, match="flatten=False"):
        conv.output_shape((192,))
    with pytest.raises(ValueError, match=r"a 4×4 image with padding \(0, 0\) is smaller than the 5×5 kernel"):
        conv.forward(np.ones((2, 3, 4, 4)))
    with pytest.raises(RuntimeError, match="forward"):
        Conv2D(3, 4, 5).backward(np.ones((2, 4, 1, 1)))
    out = conv.forward(np.ones((2, 3, 6, 6)), training=True)
    with pytest.raises(ValueError, match=r"expected dout of shape \(2, 4, 2, 2\)"):
        conv.backward(np.ones((2, 4, 3, 3)))
    assert out.shape == (2, 4, 2, 2)
    for cls in (MaxPool2D, AvgPool2D):
        pool = cls(3)
        with pytest.raises(ValueError, match=r"expected shape \(N, C, H, W\)"):
            pool.forward(np.ones((4, 9)))
        with pytest.raises(ValueError, match="smaller than the 3×3 window"):
            pool.forward(np.ones((1, 1, 2, 5)))
        with pytest.raises(RuntimeError, match="forward"):
            cls(2).backward(np.ones((1, 1, 1, 1)))
        pool.forward(np.ones((1, 2, 6, 6)), training=True)
        with pytest.raises(ValueError, match=r"expected dout of shape \(1, 2, 2, 2\)"):
            pool.backward(np.ones((1, 2, 3, 3)))


def test_functional_kernels_check_their_arguments():
    with pytest.raises(ValueError, match="same C"):
        conv2d_forward(np.ones((1, 2, 5, 5)), np.ones((3, 1, 3, 3)), None)
    with pytest.raises(ValueError, match="no output"):
        conv2d_forward(np.ones((1, 1, 2, 5)), np.ones((3, 1, 3, 3)), None)
    with pytest.raises(ValueError, match="no output"):
        conv2d_forward(np.ones((1, 1, 5, 5)), np.ones((3, 1, 3, 3)), None, stride=0)
    for fwd in (max_pool2d_forward, avg_pool2d_forward):
        with pytest.raises(ValueError, match="no output"):
            fwd(np.ones((1, 1, 2, 5)), 3)
        with pytest.raises(ValueError, match="stride"):
            fwd(np.ones((1, 1, 4, 4)), 2, stride=(1, 1, 1))


# -- property test: any geometry, shapes and values agree with torch ------------------------------------


@st.composite
def _geometries(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, kh - 2 * ph), 9))
    W = draw(st.integers(max(1, kw - 2 * pw), 9))
    return dict(N=draw(st.integers(1, 4)), C=draw(st.integers(1, 3)), F=draw(st.integers(1, 3)),
                H=H, W=W, k=(kh, kw), s=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), p=(ph, pw),
                chunk=draw(st.sampled_from([1, 500, None])), seed=draw(st.integers(0, 2**16)),
                rows=draw(st.sampled_from([None, 2, 4])), need_dx=draw(st.booleans()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(geo=_geometries())
def test_conv_and_pools_agree_with_torch_for_any_geometry(torch, geo):
    rng = np.random.default_rng(geo["seed"])
    x = rng.normal(size=(geo["N"], geo["C"], geo["H"], geo["W"]))
    W = rng.normal(size=(geo["F"], geo["C"]) + geo["k"])
    b = rng.normal(size=geo["F"])
    # rows: output rows per group forced to 2 or 4 where they divide the output height
    rule = (lambda F, C, OH, kh, sh: geo["rows"] if OH % geo["rows"] == 0 else 1) if geo["rows"] else None
    with mock.patch.object(conv_module, "_rows_per_group", rule or conv_module._rows_per_group):
        out, cache = conv2d_forward(x, W, b, geo["s"], geo["p"], chunk_bytes=geo["chunk"])
    layer = Conv2D(geo["C"], geo["F"], geo["k"], stride=geo["s"], padding=geo["p"])
    assert out.shape == (geo["N"],) + layer.output_shape(x.shape[1:])
    dout = rng.normal(size=out.shape)
    dx, dW, db = conv2d_backward(dout, cache, need_dx=geo["need_dx"])
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    ot = torch.nn.functional.conv2d(xt, Wt, bt, stride=geo["s"], padding=geo["p"])
    ot.backward(torch.tensor(dout))
    for mine, ref in ((out, ot), (dW, Wt.grad), (db, bt.grad)) + (((dx, xt.grad),) if geo["need_dx"] else ()):
        _close(mine, ref.detach().numpy())
    assert (dx is None) == (not geo["need_dx"])
    if geo["H"] >= geo["k"][0] and geo["W"] >= geo["k"][1]:
        xi = rng.integers(0, 3, size=x.shape).astype(float)      # ties
        for cls, fn in ((MaxPool2D, torch.nn.functional.max_pool2d), (AvgPool2D, torch.nn.functional.avg_pool2d)):
            pool = cls(geo["k"], geo["s"])
            o = pool.forward(xi, training=True)
            assert o.shape == (geo["N"],) + pool.output_shape(xi.shape[1:])
            d = rng.normal(size=o.shape)
            g = pool.backward(d)
            t = torch.tensor(xi, requires_grad=True)
            to = fn(t, geo["k"], geo["s"])
            to.backward(torch.tensor(d))
            _close(o, to.detach().numpy())
            _close(g, t.grad.numpy())
