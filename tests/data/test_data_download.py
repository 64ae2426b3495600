"""Downloads against a local HTTP server on 127.0.0.1: good file, corrupted file, dead
mirror, no network. Nothing here reaches the internet."""
import shutil

import numpy as np
import pytest

from proxnet.data import (ChecksumError, DatasetNotFoundError, download_file, load_dataset,
                          load_fashion_mnist, load_mnist, locate_files)


def _publish(synthetic, root, sub):
    served, md5 = synthetic
    shutil.copytree(served, root / sub)
    return md5


def _cache_files(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())


def test_good_download(synthetic, http_root, tmp_path):
    root, url = http_root
    md5 = _publish(synthetic, root, "good")
    cache = tmp_path / "cache"
    X, y = load_mnist(tmp_path / "empty", "train", cache_dir=cache, mirrors=[url + "good/"],
                      checksums=md5, timeout=5)
    assert X.shape == (30, 784) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.arange(30) % 10)
    assert _cache_files(cache) == ["mnist/train-images-idx3-ubyte.gz",
                                   "mnist/train-labels-idx1-ubyte.gz"]
    # The cached copy is used without the network afterwards.
    shutil.rmtree(root / "good")
    X2, _ = load_mnist(tmp_path / "empty", "train", cache_dir=cache, mirrors=[url + "good/"],
                       checksums=md5, timeout=5)
    np.testing.assert_array_equal(X, X2)


def test_load_dataset_downloads_both_splits(synthetic, http_root, tmp_path):
    root, url = http_root
    md5 = _publish(synthetic, root, "m")
    d = load_dataset("fashion-mnist", cache_dir=tmp_path / "c", mirrors=[url + "m/"],
                     checksums=md5, timeout=5, flatten=False)
    assert d.X_train.shape == (30, 1, 28, 28) and d.X_test.shape == (20, 1, 28, 28)
    assert d.classes[0] == "T-shirt/top"
    assert len(_cache_files(tmp_path / "c" / "fashion-mnist")) == 4


def test_corrupted_download_leaves_nothing(synthetic, http_root, tmp_path):
    root, url = http_root
    md5 = _publish(synthetic, root, "bad")
    target = root / "bad" / "train-images-idx3-ubyte.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match=r"train-images-idx3-ubyte.gz.*expected checksum"):
        load_mnist(None, "train", cache_dir=cache, mirrors=[url + "bad/"], checksums=md5,
                   timeout=5)
    assert not any(p.name.startswith("train-images") or p.suffix == ".part"
                   for p in cache.rglob("*") if p.is_file())
    # Every temporary file is gone too.
    assert all(not p.name.startswith(".") for p in cache.rglob("*"))


def test_dead_first_mirror_then_next(synthetic, http_root, dead_url, tmp_path):
    root, url = http_root
    md5 = _publish(synthetic, root, "ok")
    mirrors = [dead_url, url + "missing/", url + "ok/"]  # refused, then 404, then good
    X, y = load_mnist(None, "test", cache_dir=tmp_path / "c", mirrors=mirrors,
                      checksums=md5, timeout=5)
    assert X.shape == (20, 784)


def test_bad_then_good_mirror(synthetic, http_root, tmp_path):
    root, url = http_root
    md5 = _publish(synthetic, root, "ok")
    (root / "bad").mkdir()
    (root / "bad" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"garbage")
    path = download_file("t10k-labels-idx1-ubyte.gz", tmp_path / "d", [url + "bad/", url + "ok/"],
                         md5=md5["t10k-labels-idx1-ubyte.gz"], timeout=5)
    assert path.read_bytes() == (root / "ok" / "t10k-labels-idx1-ubyte.gz").read_bytes()


def test_no_network_clear_error(dead_url, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("PROXNET_DATA", str(data))
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(split="train", cache_dir=tmp_path / "cache", mirrors=[dead_url, dead_url],
                   timeout=5)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for needle in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                   str(data / "mnist"), str(tmp_path / "cache" / "mnist"), "PROXNET_DATA",
                   dead_url, "Downloading failed"):
        assert needle in msg, needle
    assert "t10k" not in msg
    assert not (tmp_path / "cache" / "mnist").exists() or not any(
        (tmp_path / "cache" / "mnist").iterdir())


def test_download_false(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"(?s)t10k-images-idx3-ubyte.gz.*"
                                                   r"fashion-mnist/.*download=False"):
        load_fashion_mnist(None, "test", cache_dir=tmp_path, download=False)


def test_pair_never_split_across_folders(synthetic, tmp_path, monkeypatch):
    """Images in the data folder, labels only in the cache: refused, naming the folder and
    the missing file, instead of mixing two folders."""
    served, _ = synthetic
    data, cache = tmp_path / "data" / "mnist", tmp_path / "cache" / "mnist"
    data.mkdir(parents=True)
    cache.mkdir(parents=True)
    shutil.copy(served / "train-images-idx3-ubyte.gz", data)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(served / name, cache)
    with pytest.raises(DatasetNotFoundError, match=(
            r"MNIST train files: .*data/mnist \(the data_dir argument\) holds "
            r"train-images-idx3-ubyte but not train-labels-idx1-ubyte; the images and labels "
            r"of one split must come from the same folder")):
        load_mnist(tmp_path / "data", "train", cache_dir=tmp_path / "cache", download=False)
    # the complete pair in the cache is used once the stray file is gone
    (data / "train-images-idx3-ubyte.gz").unlink()
    paths = locate_files("mnist", "train", tmp_path / "data", cache_dir=tmp_path / "cache",
                         download=False)
    assert {p.parent for p in paths} == {cache}


def test_half_pair_in_cache_completed_there(synthetic, http_root, tmp_path):
    """A cache holding only the labels (an interrupted download) gets the images beside them;
    the labels are not fetched again."""
    root, url = http_root
    md5 = _publish(synthetic, root, "m")
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    shutil.copy(root / "m" / "t10k-labels-idx1-ubyte.gz", cache)
    (root / "m" / "t10k-labels-idx1-ubyte.gz").unlink()  # fetching it again would fail
    images, labels = locate_files("mnist", "test", tmp_path / "empty",
                                  cache_dir=tmp_path / "cache", mirrors=[url + "m/"],
                                  checksums=md5, timeout=5)
    assert images.parent == labels.parent == cache


def test_published_size_enforced(synthetic, http_root, tmp_path):
    """Without a checksum override the published size applies: a mirror serving another
    file is refused on its Content-Length, before the body is read."""
    root, url = http_root
    _publish(synthetic, root, "m")
    with pytest.raises(DatasetNotFoundError, match=r"Content-Length \d+ differs from the "
                                                   r"expected size 1648877"):
        load_mnist(None, "test", cache_dir=tmp_path / "c", mirrors=[url + "m/"], timeout=5)
    assert not any((tmp_path / "c").rglob("*.gz")) and not any((tmp_path / "c").rglob(".*"))
