"""The finite check at the boundary (:func:`proxnet.validation.all_finite`): the same answer as
``np.isfinite(a).all()`` on every layout, in bounded scratch memory."""
import tracemalloc

import numpy as np
import pytest

from proxnet.validation import FINITE_CHUNK, all_finite, check_array


def _layouts(rng, dtype):
    base = rng.normal(size=(3 * FINITE_CHUNK // 64 + 5, 64)).astype(dtype)
    return {"c": base, "fortran": np.asfortranarray(base), "transposed": base.T,
            "strided": base[::2, ::3], "small": base[:3], "0-d": np.asarray(base[0, 0]),
            "empty": base[:0]}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_all_finite_agrees_with_numpy_on_every_layout_and_position(rng, dtype):
    for name, a in _layouts(rng, dtype).items():
        assert all_finite(a) is True, name
        for pos in sorted({0, a.size // 2, a.size - 1}) if a.size else []:
            for bad in (np.nan, np.inf, -np.inf):
                b = np.array(a)           # same layout
                b.flat[pos] = bad
                assert all_finite(b) is False and all_finite(b) == bool(np.isfinite(b).all()), (name, pos)


def test_all_finite_ignores_non_float_arrays():
    assert all_finite(np.arange(10)) and all_finite(np.array([True, False]))


def test_all_finite_needs_no_copy_of_the_array():
    a = np.zeros(2**23, np.float32)          # 32 MiB; np.isfinite would make an 8 MiB mask
    tracemalloc.start()
    try:
        assert all_finite(a) and all_finite(a.reshape(2**11, 2**12).T)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * FINITE_CHUNK


def test_check_array_counts_the_bad_values_of_a_large_array():
    x = np.ones((3 * FINITE_CHUNK,), np.float32)
    x[[5, FINITE_CHUNK + 1, -1]] = [np.nan, np.inf, -np.inf]
    with pytest.raises(ValueError, match=r"^X: contains 3 NaN or inf value\(s\)$"):
        check_array(x, "X")
