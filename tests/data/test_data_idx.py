"""IDX reading: round trips, and clear errors for truncated or corrupted files."""
import gzip

import numpy as np
import pytest

from proxnet.data import read_idx, write_idx
from proxnet.data.mnist import load_idx_pair


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_round_trip_raw_and_gz(tmp_path, name):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / name, x)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    y = read_idx(path, expected_magic=0x0803, expected_shape=(None, 3, 4))
    np.testing.assert_array_equal(x, y)
    y[0, 0, 0] = 7  # writable copy


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64, np.int8])
def test_round_trip_other_types(tmp_path, dtype):
    x = (np.arange(10) - 3).astype(dtype).reshape(5, 2)
    y = read_idx(write_idx(tmp_path / "x.idx", x))
    assert y.dtype == np.dtype(dtype) and y.dtype.isnative
    np.testing.assert_array_equal(x, y)


def test_compression_detected_from_content(tmp_path):
    x = np.ones((3, 28, 28), np.uint8)
    path = write_idx(tmp_path / "no-suffix", x, compress=True)
    np.testing.assert_array_equal(read_idx(path), x)


def _raw(tmp_path, n=4):
    return write_idx(tmp_path / "img-idx3-ubyte", np.zeros((n, 28, 28), np.uint8))


def test_truncated_payload(tmp_path):
    path = _raw(tmp_path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"img-idx3-ubyte: truncated IDX file.*3136 payload "
                                         r"bytes, found 3036"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = _raw(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="short: truncated IDX header"):
        read_idx(path)
    path.write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="shorter than the 4-byte magic"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = write_idx(tmp_path / "img.gz", np.random.default_rng(0).integers(
        0, 255, (50, 28, 28), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"img.gz: truncated or corrupted gzip"):
        read_idx(path)


def test_gzip_of_truncated_idx(tmp_path):
    path = tmp_path / "img.gz"
    raw = _raw(tmp_path).read_bytes()
    path.write_bytes(gzip.compress(raw[:-1]))
    with pytest.raises(ValueError, match=r"img.gz: truncated IDX file"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    labels = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"labels: wrong IDX magic number 0x00000801 \(2049\), "
                                         r"expected 0x00000803 \(2051\)"):
        read_idx(labels, expected_magic=2051)
    junk = tmp_path / "junk"
    junk.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ValueError, match="junk: not an IDX file"):
        read_idx(junk)


def test_wrong_dimensions(tmp_path):
    path = write_idx(tmp_path / "img", np.zeros((2, 27, 28), np.uint8))
    with pytest.raises(ValueError, match=r"img: IDX dimensions \(2, 27, 28\), expected "
                                         r"\(N, 28, 28\)"):
        read_idx(path, expected_shape=(None, 28, 28))


def test_pair_checks(tmp_path):
    images = write_idx(tmp_path / "images", np.zeros((3, 28, 28), np.uint8))
    labels = write_idx(tmp_path / "labels", np.array([0, 1], np.uint8))
    with pytest.raises(ValueError, match="labels: 2 labels, expected 3"):
        load_idx_pair(images, labels)
    write_idx(labels, np.array([0, 1, 10], np.uint8))
    with pytest.raises(ValueError, match="label 10 out of range"):
        load_idx_pair(images, labels)
    with pytest.raises(ValueError, match="wrong IDX magic"):
        load_idx_pair(labels, images)
    write_idx(labels, np.array([0, 1, 9], np.uint8))
    X, y = load_idx_pair(images, labels)
    assert X.shape == (3, 28, 28) and X.dtype == np.uint8 and y.dtype == np.int64
