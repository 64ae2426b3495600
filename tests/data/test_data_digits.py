"""The vendored 8x8 digits: the same arrays as scikit-learn's, read without importing it."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from proxnet.data import load_dataset
from proxnet.data.digits import DIGITS_FILE, digits_raw

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_equal_to_sklearn():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn not installed: "
                                   "no oracle for the vendored digits")
    bunch = datasets.load_digits()
    images, labels = digits_raw()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.int64
    np.testing.assert_array_equal(images.astype(np.float64), bunch.images)
    np.testing.assert_array_equal(images.reshape(1797, 64).astype(np.float64), bunch.data)
    np.testing.assert_array_equal(labels, bunch.target)


def test_fresh_arrays_each_call():
    a, _ = digits_raw()
    a[0, 0, 0] = 99
    assert digits_raw()[0][0, 0, 0] != 99


def test_package_data_and_licence_beside_it():
    assert DIGITS_FILE.is_file()
    note = (DIGITS_FILE.parent / "DIGITS_LICENSE.txt").read_text()
    for needle in ("scikit-learn", "BSD 3-Clause", "UCI", "Alpaydin", "CC BY 4.0"):
        assert needle in note
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert '"proxnet.data" = ["digits.csv.gz", "DIGITS_LICENSE.txt"]' in pyproject


def test_corrupted_package_data_is_refused(tmp_path, monkeypatch):
    import proxnet.data.digits as digits

    bad = tmp_path / "digits.csv.gz"
    data = bytearray(DIGITS_FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(digits, "DIGITS_FILE", bad)
    digits._parse.cache_clear()
    try:
        with pytest.raises(ValueError, match="corrupted package data"):
            digits.digits_raw()
    finally:
        digits._parse.cache_clear()


def test_no_sklearn_import():
    code = ("import sys\nimport proxnet.data.digits as d\nfrom proxnet.data import "
            "load_dataset\nd.load_digits('test'); load_dataset('digits')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sklearn', 'scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
                         cwd=str(REPO_ROOT), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_raw_pixels():
    d = load_dataset("digits", scale=False)
    assert d.X_train.dtype == np.float32 and d.X_train.max() == 16.0
    np.testing.assert_array_equal(d.X_train, load_dataset("digits").X_train * 16)
