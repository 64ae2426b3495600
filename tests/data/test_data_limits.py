"""Hostile files loaded in a child process under a 512 MiB address-space limit: each must end
in the loader's clear ValueError (naming the file), never a MemoryError or another exception.
Also the in-process checks behind them (declared sizes refused before any allocation)."""
import gzip
import io
import struct
import zipfile

import numpy as np
import pytest

from proxnet.data import load_file, read_idx, write_idx
from proxnet.data.idx import parse_idx
from proxnet.data.limits import MAX_BYTES, read_exact

BOMB_CHUNKS = 70  # 70 x 16 MiB = 1.17 GB of zeros, about 1.1 MB compressed


def _isize(path):
    """Inflated size recorded in a gzip trailer (exact below 4 GiB)."""
    return struct.unpack("<I", path.read_bytes()[-4:])[0]


@pytest.fixture(scope="module")
def mnist_bomb(tmp_path_factory, hostile):
    """A train-images file with MNIST's header (60000 x 28 x 28) inflating to 1.17 GB."""
    path = tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz"
    size = hostile.gzip_bomb(path, hostile.idx_header((60000, 28, 28)), BOMB_CHUNKS)
    assert size > 1 << 30 and _isize(path) == size and path.stat().st_size < 2 << 20
    return path


def test_limit_is_real(limited):
    """The child's limit bites: allocating 1 GiB there is a MemoryError."""
    assert limited("import numpy as np; np.ones(1 << 30, np.uint8)").startswith("MemoryError")
    assert limited("import proxnet.data") == "OK"


def test_gz_bomb_stops_at_declared_size(limited, mnist_bomb):
    out = limited(f"from proxnet.data import read_idx; read_idx({str(mnist_bomb)!r})")
    assert out.startswith(f"ValueError: {mnist_bomb}: corrupted (trailing bytes) IDX file"), out
    assert "47040000 payload bytes" in out


def test_gz_bomb_through_load_dataset(limited, mnist_bomb, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / mnist_bomb.name).symlink_to(mnist_bomb)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(60000, np.uint8))
    out = limited(f"from proxnet.data import load_mnist\n"
                  f"load_mnist({str(tmp_path)!r}, 'train', download=False)")
    assert out.startswith("ValueError: ") and "trailing bytes" in out, out
    assert str(folder / mnist_bomb.name) in out


def test_gz_bomb_with_honest_huge_header(limited, hostile, tmp_path):
    """A header that truly declares 1.17 GB (under max_bytes): too big for the 512 MiB
    process, which says so instead of raising MemoryError."""
    path = tmp_path / "big.gz"
    n_rows = BOMB_CHUNKS * (16 << 20) // 784
    hostile.gzip_bomb(path, hostile.idx_header((n_rows, 28, 28)), BOMB_CHUNKS)
    out = limited(f"from proxnet.data import read_idx; read_idx({str(path)!r})")
    assert out.startswith(f"ValueError: {path}: not enough memory to hold its "
                          f"{n_rows * 784} declared bytes"), out


@pytest.mark.parametrize("dims", [(4_000_000_000, 28, 28), (4_000_000_000,),
                                  (65535, 65535, 65535)])
@pytest.mark.parametrize("compress", [True, False])
def test_huge_declared_header_refused_before_allocation(limited, hostile, tmp_path, dims,
                                                        compress):
    head = hostile.idx_header(dims) + bytes(10)
    path = tmp_path / ("huge.gz" if compress else "huge")
    path.write_bytes(gzip.compress(head) if compress else head)
    out = limited(f"from proxnet.data import read_idx; read_idx({str(path)!r})")
    assert out.startswith(f"ValueError: {path}: "), out
    n_bytes = int(np.prod(dims, dtype=object))
    if n_bytes > MAX_BYTES:
        assert f"declares {n_bytes} bytes" in out and "more than max_bytes" in out
    else:  # under the cap, but more than this small file can hold
        assert "truncated IDX file" in out and f"= {n_bytes} payload bytes" in out


def test_max_bytes_argument(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((10, 28, 28), np.uint8))
    assert read_idx(path, max_bytes=7840).shape == (10, 28, 28)
    with pytest.raises(ValueError, match=r"x.gz: its IDX header \(dims \(10, 28, 28\) of "
                                         r"uint8\) declares 7840 bytes .*max_bytes=7839"):
        read_idx(path, max_bytes=7839)
    for bad in (0, -1, True, 1.5, "7840", 2 ** 60):
        with pytest.raises(ValueError, match="max_bytes: expected an integer"):
            read_idx(path, max_bytes=bad)


def test_gzip_members_padding_and_garbage(tmp_path):
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = write_idx(tmp_path / "x", x).read_bytes()
    path = tmp_path / "multi.gz"
    path.write_bytes(gzip.compress(raw[:7]) + gzip.compress(raw[7:]) + bytes(5))
    np.testing.assert_array_equal(read_idx(path), x)  # two members, zero padding: as gzip
    path.write_bytes(gzip.compress(raw) + b"junk")
    with pytest.raises(ValueError, match="multi.gz: corrupted gzip file .unexpected data"):
        read_idx(path)
    path.write_bytes(gzip.compress(raw) + gzip.compress(b"\0"))
    with pytest.raises(ValueError, match="multi.gz: corrupted .trailing bytes"):
        read_idx(path)
    data = bytearray(gzip.compress(raw * 50))
    data[20:30] = bytes(10)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="multi.gz: truncated or corrupted gzip file"):
        read_idx(path)


def test_parse_idx_bytes():
    raw = parse_idx(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])), "mem")
    np.testing.assert_array_equal(raw, [7, 8, 9])
    with pytest.raises(ValueError, match="mem: truncated IDX file"):
        parse_idx(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7]), "mem")


def test_read_exact_memory_error_is_clear():
    def read(n):
        raise MemoryError

    with pytest.raises(ValueError, match="f: not enough memory to hold its 10 declared bytes"):
        read_exact(read, 10, "f")
    assert read_exact(io.BytesIO(b"abc").read, 10, "f") == b"abc"


def _labels_npy(hostile, n):
    return hostile.npy_header((n,), "<i8") + np.zeros(n, "<i8").tobytes()


CHUNK = 16 << 20


@pytest.mark.parametrize("descr, itemsize, expect", [
    ("|u1", 1, "reading and converting its arrays needs"),  # 1.17 GB + 4.7 GB as float32
    ("<f4", 4, "not enough memory to hold its"),            # 2.3 GB: under the cap, too big here
])
def test_npz_zip_bomb(limited, hostile, tmp_path, descr, itemsize, expect):
    n = BOMB_CHUNKS * CHUNK // itemsize
    path = tmp_path / "bomb.npz"
    hostile.zip_bomb(path, {"X.npy": hostile.npy_header((n,), descr),
                            "y.npy": _labels_npy(hostile, 10)}, BOMB_CHUNKS)
    assert path.stat().st_size < 2 << 20
    out = limited(f"from proxnet.data import load_file; load_file({str(path)!r})")
    assert out.startswith(f"ValueError: {path}") and expect in out, out


def test_npz_directory_lies_about_size(limited, hostile, tmp_path):
    """The directory says 10 bytes; the deflate stream holds 1.17 GB: reading stops at the
    declared size and the CRC check fails."""
    head = hostile.npy_header((10,))
    path = tmp_path / "liar.npz"
    hostile.zip_bomb(path, {"X.npy": head, "y.npy": _labels_npy(hostile, 10)}, BOMB_CHUNKS,
                     declared_size=len(head) + 10)
    out = limited(f"from proxnet.data import load_file; load_file({str(path)!r})")
    assert out.startswith(f"ValueError: {path}: corrupted .npz file") and "CRC" in out, out


@pytest.mark.parametrize("shape", [(10 ** 12,), (2 ** 31, 2 ** 31), (10 ** 9, 784)])
def test_npz_huge_declared_npy_header(limited, hostile, tmp_path, shape):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("X.npy", hostile.npy_header(shape, "<f8") + bytes(80))
        zf.writestr("y.npy", _labels_npy(hostile, 10))
    out = limited(f"from proxnet.data import load_file; load_file({str(path)!r})")
    assert out.startswith(f"ValueError: {path}[X.npy]: its header declares shape "
                          f"{shape}"), out
    assert "the zip directory says the member holds 80" in out


def test_npz_directory_declares_impossible_size(hostile, tmp_path):
    path = tmp_path / "dir.npz"
    hostile.zip_bomb(path, {"X.npy": hostile.npy_header((10,)), "y.npy": b"x"}, 1,
                     declared_size=3 << 30)
    with pytest.raises(ValueError, match=r"dir.npz\[X.npy\]: corrupted zip directory: \d+ "
                                         r"compressed bytes cannot inflate to the declared"):
        load_file(path)


def test_npz_refusals(tmp_path):
    X, y = np.ones((4, 2)), np.arange(4)
    renamed = tmp_path / "renamed.npz"
    np.save(tmp_path / "a.npy", X)
    (tmp_path / "a.npy").rename(renamed)
    with pytest.raises(ValueError, match="renamed.npz: not a valid .npz file"):
        load_file(renamed)
    complex_ = tmp_path / "complex.npz"
    np.savez(complex_, X=X + 1j, y=y)
    with pytest.raises(ValueError, match=r"complex.npz\[X.npy\]: complex values"):
        load_file(complex_)
    structured = tmp_path / "rec.npz"
    np.savez(structured, X=np.zeros(4, [("a", "f4"), ("b", "i4")]), y=y)
    with pytest.raises(ValueError, match=r"rec.npz\[X.npy\]: unsupported dtype"):
        load_file(structured)
    fortran = tmp_path / "f.npz"
    Xf = np.asfortranarray(np.arange(12.0).reshape(4, 3))
    np.savez(fortran, X=Xf, y=y)
    np.testing.assert_array_equal(load_file(fortran, dtype="float64")[0], Xf)
    with pytest.raises(ValueError, match="the file holds .* more than max_bytes=100"):
        load_file(fortran, max_bytes=100)


class _Marker:
    path = None

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_npz_pickle_never_runs(tmp_path):
    marker = tmp_path / "marker"
    _Marker.path = str(marker)
    path = tmp_path / "evil.npz"
    np.savez(path, X=np.array([_Marker(), 1], dtype=object), y=np.arange(2))
    with pytest.raises(ValueError, match=r"evil.npz\[X.npy\]: holds Python objects .*pickle"):
        load_file(path)
    assert not marker.exists()


def test_npz_member_crc_checked(tmp_path):
    path = tmp_path / "flip.npz"
    np.savez(path, X=np.arange(400.0).reshape(100, 4), y=np.arange(100) % 2)
    data = bytearray(path.read_bytes())
    data[data.index(b"X.npy") + 5 + 200] ^= 0x01  # inside X's stored payload
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flip.npz: corrupted .npz file .*CRC"):
        load_file(path)


def test_csv_limits(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1," * 600_000 + "0\n")
    with pytest.raises(ValueError, match="d.csv: a line longer than 1048576 characters"):
        load_file(path)
    path.write_text("".join(f"{i},{i % 2}\n" for i in range(1000)))
    assert load_file(path)[0].shape == (1000, 1)
    with pytest.raises(ValueError, match=r"d.csv: its parsed table needs more than "
                                         r"max_bytes=20000 .*stopped at row"):
        load_file(path, max_bytes=20000)
    path.write_text("1," + "2" * 200_000 + "\n")
    with pytest.raises(ValueError, match="d.csv: not a readable CSV file .*field limit"):
        load_file(path)


def test_huge_label_values_are_encoded_not_expanded(tmp_path):
    """A label of 10**15 once made classes = arange(10**15 + 1); now large or odd labels are
    encoded by sorted unique value."""
    path = tmp_path / "d.csv"
    path.write_text("1,0\n2,1000000000000000\n3,0\n4,1e300\n")
    X, y, classes = load_file(path, return_classes=True)
    np.testing.assert_array_equal(y, [0, 1, 0, 2])
    np.testing.assert_array_equal(classes, [0, 1e15, 1e300])
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.ones((3, 1)), y=np.array([0, 2, 70000]))
    X, y, classes = load_file(npz, return_classes=True)
    np.testing.assert_array_equal(y, [0, 1, 2])
    np.testing.assert_array_equal(classes, [0, 2, 70000])
    np.savez(npz, X=np.ones((3, 1)), y=np.array([0, 2, 5]))
    X, y, classes = load_file(npz, return_classes=True)  # small labels are kept as they are
    np.testing.assert_array_equal(y, [0, 2, 5])
    assert classes.size == 6
