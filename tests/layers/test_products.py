"""The dense layers' large products on two cores (:mod:`proxnet.functional.products`): a
product is cut in two blocks of rows only where the cut has the bits of the whole product, so
every product equals ``a @ b`` bit for bit on any number of threads; the spare thread runs
blocks only where a core is idle, naps and sleeps when there is nothing to do."""
import contextlib
import multiprocessing
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from proxnet.functional import accel, products
from proxnet.parallel import num_threads, run_shards, shard_session

NUMBA_REASON = "Numba not installed (pip install proxnet[fast]): the cut products are not tested"


@pytest.fixture
def compiled():
    """The compiled kernels and NumPy's CBLAS, or a visible skip."""
    pytest.importorskip("numba", reason=NUMBA_REASON)
    if accel._load() is None:
        pytest.skip(f"Numba does not import here: {accel._import_error}")
    if not products.blas_found():
        pytest.skip("NumPy's BLAS exports no 64-bit CBLAS here: every product is a @ b")
    saved = accel.BACKEND
    accel.set_backend("numba")
    assert products.ready(), "the cut's kernels and spare thread did not load"
    yield accel.compiled()
    accel.BACKEND = saved


def _threads(n):
    """threadpool_limits(n), skipping when BLAS cannot use n threads here."""
    limit = threadpool_limits(n)
    if num_threads() != n:
        limit.restore_original_limits()
        pytest.skip(f"BLAS allows {num_threads()} thread(s) here, not {n}")
    return limit


def _ran():  # blocks the spare thread ran
    return 0 if products._spare is None else products._spare.ran


def _wait_for(condition, what):
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


@contextlib.contextmanager
def _session(threads):
    """A shard session on ``threads`` threads; with two, the spare thread exists and spins."""
    with _threads(threads), shard_session():
        if threads >= 2:
            assert products.ready(), "the cut's kernels and spare thread did not load"
            products.matmul(np.ones((128, 2048), np.float32),   # makes the thread, or wakes it
                            np.ones((2048, 128), np.float32))
            _wait_for(lambda: not products._spare.asleep(), "the spare thread did not wake up")
        yield


def _operands(rng, m, k, n, dtype, layout):
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    if layout == "transposed":             # stored the other way round, as x.T and W.T are
        a, b = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    elif layout == "slices":               # views with a leading dimension larger than the width
        a = np.pad(a, ((0, 0), (0, 8)))[:, :k]
        b = np.pad(b, ((0, 0), (0, 24)))[:, :n]
    return a, b


# (m, k, n): an MLP's first layer forward and weight gradient, a hidden layer, odd sizes
SHAPES = [(128, 784, 128), (784, 128, 128), (128, 128, 128), (100, 784, 64), (1000, 300, 70),
          (37, 2048, 40)]


def test_candidate_cuts_are_even_first_multiples_of_four_and_never_leave_a_small_block():
    assert products.candidates(128)[:5] == [64, 60, 68, 56, 72]
    assert products.candidates(784)[:3] == [392, 388, 396]
    for m in [8, 37, 100, 128, 784, 1000, 4096]:
        cuts = products.candidates(m)
        assert 0 < len(cuts) <= products.CANDIDATES and len(set(cuts)) == len(cuts)
        assert all(h % 4 == 0 and m // 4 <= h <= m - m // 4 for h in cuts)
        gaps = [abs(h - m / 2) for h in cuts]
        assert gaps == sorted(gaps)
    assert products.candidates(3) == []


class _FakeKernels:
    """cut_product writing the whole product, exactly or off by one unit in the last place
    from ``wrong_below`` on (so that cuts under it look inexact)."""

    def __init__(self, wrong_below=0):
        self.wrong_below, self.calls = wrong_below, []

    def cut_product(self, a, b, out, h, *rest):
        self.calls.append(h)
        out[:] = a @ b
        if h < self.wrong_below:
            out[-1, -1] = np.nextafter(out[-1, -1], np.inf)


def test_the_first_exact_candidate_is_kept_once_per_shape_and_layout(monkeypatch):
    pytest.importorskip("numba", reason=NUMBA_REASON)
    if not products.blas_found():
        pytest.skip("NumPy's BLAS exports no 64-bit CBLAS here")
    monkeypatch.setattr(products, "_cuts", {})
    layout = (products._NO_TRANS, 50)
    fake = _FakeKernels(wrong_below=66)               # 64 and 60 inexact, 68 exact
    with threadpool_limits(1):
        assert products.exact_cut(fake, np.float32, 128, 50, 30, layout, (111, 30)) == 68
        assert fake.calls == [64, 60, 68]
        assert products.exact_cut(fake, np.float32, 128, 50, 30, layout, (111, 30)) == 68
        assert fake.calls == [64, 60, 68]             # decided once
        never = _FakeKernels(wrong_below=10**9)
        assert products.exact_cut(never, np.float64, 128, 50, 30, layout, (111, 30)) == 0
        assert never.calls == products.candidates(128)
        assert products.exact_cut(never, np.float64, 128, 50, 30, layout, (111, 30)) == 0
        assert len(never.calls) == len(products.candidates(128))


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "slices"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_exact_cut_gives_the_bits_of_the_whole_product(compiled, shape, dtype, layout, rng):
    """The cut is decided on other random values than these: its exactness holds for any."""
    a, b = _operands(rng, *shape, dtype, layout)
    with _threads(1), shard_session():
        whole = a @ b
        h = products.exact_cut(compiled, dtype, *shape, products._layout(a), products._layout(b))
        if h:
            assert h in products.candidates(shape[0])
            assert np.array_equal(np.concatenate([a[:h] @ b, a[h:] @ b]), whole)
    with _session(2):
        got = products.matmul(a, b)
    assert got.dtype == dtype and got.flags.c_contiguous
    assert np.array_equal(got.view(np.uint8), whole.view(np.uint8))


def test_the_first_layers_products_of_an_mlp_have_exact_cuts_here(compiled):
    """OpenBLAS's kernels compute a row alike in a block and in the whole product when the cut
    is a multiple of their row tile; for NumPy's OpenBLAS one of the candidates always is. A
    BLAS without one cuts nothing (and this test says so)."""
    if not any(info["internal_api"] == "openblas" for info in threadpool_info()):
        pytest.skip("NumPy's BLAS is not OpenBLAS here")
    with _threads(1), shard_session():
        for dtype in (np.float32, np.float64):
            x = np.ones((128, 784), dtype)
            w = np.ones((784, 128), dtype)
            lx, lw = products._layout(x), products._layout(w)
            assert products.exact_cut(compiled, dtype, 128, 784, 128, lx, lw) > 0
            assert products.exact_cut(compiled, dtype, 784, 128, 128, products._layout(x.T), lw) > 0


def test_everything_else_is_the_plain_product_and_offers_nothing(compiled, rng, monkeypatch):
    a, b = _operands(rng, 128, 784, 128, np.float32, "contiguous")
    assert np.array_equal(products.matmul(a, b), a @ b)                     # outside a session
    with _session(2):
        whole = a @ b                                                        # one BLAS thread
        before = _ran()
        assert np.array_equal(products.matmul(a[:8], b), a[:8] @ b)          # small
        ai, bi = a.astype(np.int64), b.astype(np.int64)
        assert np.array_equal(products.matmul(ai, bi), ai @ bi)              # not floats
        assert products.matmul(a, b.astype(np.float64)).dtype == np.float64  # mixed: a @ b
        strided = np.ascontiguousarray(np.repeat(a, 2, axis=1))[:, ::2]      # no unit stride
        assert np.array_equal(products.matmul(strided, b), strided @ b)
        s = rng.normal(size=(784, 784)).astype(np.float32)
        assert np.array_equal(products.matmul(s.T, s), s.T @ s)             # one array twice
        accel.set_backend("numpy")
        assert np.array_equal(products.matmul(a, b), whole)
        accel.set_backend("numba")
        monkeypatch.setattr(products, "_cuts", {})
        monkeypatch.setattr(products, "_blas", {})                           # no CBLAS found
        assert np.array_equal(products.matmul(a, b), whole)
        assert _ran() == before


def test_the_spare_thread_runs_second_blocks_only_when_a_core_is_idle(compiled, rng):
    """Who runs an offered block depends on timing (the caller takes it back if the spare
    thread has not started it), never the bits; over many products the spare runs some."""
    a, b = _operands(rng, 784, 128, 128, np.float32, "contiguous")
    with _threads(1), shard_session():
        whole = a @ b
        before = _ran()
        alone = [products.matmul(a, b) for _ in range(50)]
        assert _ran() == before
    with _session(2):
        before = _ran()
        shared = [products.matmul(a, b) for _ in range(50)]
        assert _ran() > before
    assert all(np.array_equal(x, whole) for x in alone + shared)


def test_shards_side_by_side_leave_the_spare_thread_alone(compiled, rng):
    a, b = _operands(rng, 128, 784, 128, np.float32, "contiguous")
    with _threads(1), shard_session():
        whole = a @ b
    with _session(2):
        before = _ran()
        outs = run_shards(lambda i: products.matmul(a, b), 4)
        assert _ran() == before
    assert all(np.array_equal(out, whole) for out in outs)


def test_callers_on_two_threads_at_once_get_their_own_products(compiled, rng):
    pairs = [_operands(rng, 256, 600, 128, np.float64, "contiguous") for _ in range(2)]
    with _threads(1), shard_session():
        expected = [a @ b for a, b in pairs]
    results, errors = [[], []], []
    # Both sessions stay open until both threads are done: BLAS's thread limit is the
    # process's, and with threadpoolctl >= 3.8 only the thread that set it first may change
    # it, so the first session to end would restore 2 BLAS threads under the other's products.
    done = threading.Barrier(2, timeout=60)

    def work(i):
        try:
            with threadpool_limits(2), shard_session():
                for _ in range(30):
                    results[i].append(products.matmul(*pairs[i]))
                done.wait()
        except BaseException as exc:      # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and all(len(r) == 30 for r in results)
    for i in range(2):
        assert all(np.array_equal(r, expected[i]) for r in results[i])


def test_the_spare_thread_naps_then_sleeps_and_a_session_wakes_it(compiled, rng, monkeypatch):
    a, b = _operands(rng, 784, 128, 128, np.float32, "contiguous")
    with _session(2):
        first = products.matmul(a, b)
        spare = products._spare
    ctrl, m = spare.ctrl, spare.module
    assert ctrl[m.REST] == 1                               # the session's end sent it napping
    sleeps = spare.sleeps
    _wait_for(lambda: spare.sleeps > sleeps and spare.asleep(),
              f"the spare thread did not sleep after {products.NAPS} naps")
    with _threads(2), shard_session():
        assert ctrl[m.REST] == 0
        _wait_for(lambda: not spare.asleep(), "the session's start did not wake the thread")
        before = spare.ran
        again = [products.matmul(a, b) for _ in range(20)]
        assert spare.ran > before
    assert products._spare is spare
    assert all(np.array_equal(x, first) for x in again)


def _child(queue, a, b):
    with _session(2):
        queue.put((products.matmul(a, b), products._spare.ran))


def test_a_forked_child_makes_its_own_spare_thread(compiled, rng):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method on this platform")
    a, b = _operands(rng, 128, 784, 128, np.float32, "contiguous")
    with _session(2):
        mine = [products.matmul(a, b) for _ in range(20)][0]
    assert products._spare.ran >= 3
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue, a, b))
    child.start()
    theirs, ran = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0 and ran <= 2      # a new thread: it ran the child's blocks only
    assert np.array_equal(mine, theirs)


def test_an_mlp_trains_to_the_same_bits_on_one_and_two_threads(compiled, rng):
    """Forward, weight gradient and input gradient products of 128 × 600 × 128 and
    128 × 128 × 128 are cut on two threads; the weights end bit for bit as on one."""
    from proxnet.architectures import mlp
    X = rng.normal(size=(256, 600))
    y = rng.integers(0, 10, size=256)
    weights = {}
    for dtype in ("float64", "float32"):
        for threads in (1, 2):
            model = mlp([600, 128, 128, 10], seed=0, dtype=dtype,
                        optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9})
            with _threads(threads):
                before = _ran()
                model.fit(X, y, epochs=2, batch_size=128, shuffle=True, seed=0, verbose=False,
                          validation_data=(X[:200], y[:200]))
                assert (_ran() > before) == (threads == 2)
            weights[dtype, threads] = [v for _, v in model.named_parameters()]
        for a, b in zip(weights[dtype, 1], weights[dtype, 2]):
            assert np.array_equal(a, b)


_FRESH = """
import sys
import numpy as np
from threadpoolctl import threadpool_limits
from proxnet.architectures import mlp
from proxnet.functional import accel, products
products.HOT_MACS = int(sys.argv[1])
X = np.random.default_rng(0).normal(size=(512, 600)).astype(np.float32)
y = np.arange(512) % 10

def trained():
    model = mlp([600, 128, 10], seed=0, optimizer={"kind": "sgd", "lr": 0.05})
    model.fit(X, y, epochs=1, batch_size=128, shuffle=True, seed=0, verbose=False)
    return [v for _, v in model.named_parameters()]

with threadpool_limits(1):
    alone = trained()
with threadpool_limits(2):
    first = trained()
    cold = accel.loaded() is None and "numba" not in sys.modules
    later = [trained() for _ in range(3)]
print(cold, products._whole_macs, products._spare is not None and products._spare.ran > 0,
      all(np.array_equal(a, b) for w in [first] + later for a, b in zip(alone, w)))
"""


def test_a_process_loads_numba_for_the_cut_only_once_its_large_products_are_hot():
    """Per epoch: forward and weight gradient of 128 × 600 × 128 (9.8M multiply-adds each)
    for 4 batches, and the outputs of the 512 training samples at its end (39.3M). Until
    HOT_MACS of them ran whole on two threads, nothing loads Numba; then the cut loads it and
    runs; the weights are the bits of one thread throughout."""
    pytest.importorskip("numba", reason=NUMBA_REASON)
    if not products.blas_found():
        pytest.skip("NumPy's BLAS exports no 64-bit CBLAS here: every product is a @ b")
    with threadpool_limits(2):
        if num_threads() != 2:
            pytest.skip(f"BLAS allows {num_threads()} thread(s) here, not 2")
    per_epoch = 4 * 2 * 128 * 600 * 128 + 512 * 600 * 128
    for hot, loads in ((2 * per_epoch, True), (10**15, False)):
        out = subprocess.run([sys.executable, "-c", _FRESH, str(hot)], capture_output=True,
                             text=True, env={**os.environ, "PROXNET_KERNELS": "auto"}, timeout=300)
        assert out.returncode == 0, out.stderr
        cold, whole, cut, same = out.stdout.split()
        assert cold == "True" and same == "True" and cut == str(loads)
        if loads:      # the product that reached the count went to the cut
            assert hot <= int(whole) < hot + 512 * 600 * 128
        else:
            assert int(whole) == 4 * per_epoch
