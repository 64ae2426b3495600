"""Downloads against a misbehaving local server (127.0.0.1): each failure is a clear
DownloadError naming the URL and what went wrong, every test finishes within a few seconds,
and no partial file is ever left behind."""
import hashlib
import logging
import os
import time

import pytest

from proxnet.data import ChecksumError, DownloadError, download_file

FAST = dict(timeout=0.5, deadline=2.0, min_rate=0)


def _left(folder):
    """Every file left in the destination folder (partial files start with a dot)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _fails(url, tmp_path, match, **kwargs):
    dest = tmp_path / "dest"
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=match) as info:
        download_file("f.gz", dest, [url], **{**FAST, **kwargs})
    elapsed = time.monotonic() - t0
    assert _left(dest) == [], _left(dest)
    assert url.rstrip("/") + "/f.gz" in str(info.value)
    return elapsed


def test_slow_drip_hits_the_deadline(hostile_http, tmp_path):
    """1 byte/s never trips the 1.5 s stall timeout (a per-read timeout); the deadline
    still ends the attempt at 2 s."""
    url, _ = hostile_http
    elapsed = _fails(url + "drip/", tmp_path, r"drip/f.gz: deadline of 2 s passed",
                     timeout=1.5)
    assert 1.9 < elapsed < 3.5


def test_slow_drip_below_minimum_rate(hostile_http, tmp_path):
    url, _ = hostile_http
    elapsed = _fails(url + "drip/", tmp_path, r"too slow: \d bytes in [12]\.\d s, below the "
                     r"minimum rate of 1000 bytes/s", min_rate=1000, timeout=1.5, deadline=60)
    assert elapsed < 3.0


def test_header_drip_hits_the_deadline(hostile_http, tmp_path):
    """Headers trickled one byte per 0.2 s: no read ever times out, the watchdog ends it."""
    url, _ = hostile_http
    elapsed = _fails(url + "header-drip/", tmp_path, "deadline of 2 s passed")
    assert elapsed < 3.5


def test_stall(hostile_http, tmp_path):
    url, _ = hostile_http
    elapsed = _fails(url + "stall/", tmp_path, r"timed out \(stalled: nothing received for "
                     r"0.5 s\)", deadline=30)
    assert elapsed < 2.0


def test_short_body_is_an_error_without_checksum(hostile_http, tmp_path):
    url, _ = hostile_http
    _fails(url + "short/", tmp_path, "short body: 500 of 1000 bytes received", md5=None)


def test_oversize(hostile_http, tmp_path):
    url, _ = hostile_http
    elapsed = _fails(url + "endless/", tmp_path, r"body exceeds 100000 bytes", size=100_000,
                     deadline=30)  # published size known, no Content-Length
    assert elapsed < 2.0
    _fails(url + "endless/", tmp_path, r"body exceeds 300000 bytes", max_bytes=300_000,
           deadline=30)  # nothing known: the hard cap
    _fails(url + "big-length/", tmp_path, r"Content-Length 10000000000 \(9.3 GiB\) exceeds "
           r"the cap of 1073741824 bytes")
    _fails(url + "short/", tmp_path, r"Content-Length 1000 differs from the expected size 999",
           size=999)


@pytest.mark.parametrize("code, reason", [(404, "Not Found"), (500, "Internal Server Error")])
def test_http_errors(hostile_http, tmp_path, code, reason):
    url, _ = hostile_http
    _fails(url + f"{code}/", tmp_path, f"HTTP Error {code}: {reason}")


@pytest.mark.parametrize("route, target", [("to-file", "file:///etc/passwd"),
                                           ("to-ftp", "ftp://127.0.0.1/x")])
def test_redirect_off_http_refused(hostile_http, tmp_path, route, target):
    url, _ = hostile_http
    _fails(url + route + "/", tmp_path, f"redirected \\(HTTP 30[12]\\) to '{target}', which "
           "is not an http\\(s\\) URL; refused")


def test_redirect_within_http_followed_and_logged(hostile_http, tmp_path, caplog):
    url, handler = hostile_http
    handler.good = b"payload" * 100
    with caplog.at_level(logging.INFO, logger="proxnet.data"):
        path = download_file("f.gz", tmp_path, [url + "404/", url + "to-good/"],
                             md5=hashlib.md5(handler.good).hexdigest(), size=700, **FAST)
    assert path.read_bytes() == handler.good and _left(tmp_path) == ["f.gz"]
    messages = [r.getMessage() for r in caplog.records if r.name == "proxnet.data"]
    assert f"downloading {url}404/f.gz" in messages
    assert any(m.startswith(f"downloaded {url}to-good/f.gz (700 bytes") for m in messages)
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "proxnet.data")


def test_every_mirror_listed_and_nothing_left(hostile_http, tmp_path):
    url, handler = hostile_http
    handler.good = b"x" * 10
    dest = tmp_path / "d"
    with pytest.raises(ChecksumError) as info:
        download_file("f.gz", dest, [url + "short/", url + "good/", url + "500/"],
                      md5="0" * 32, **FAST)
    msg = str(info.value)
    assert "short/f.gz: short body" in msg and "good/f.gz: MD5" in msg and "500/f.gz" in msg
    assert _left(dest) == []


def test_stale_partial_files_cleaned(hostile_http, tmp_path):
    url, handler = hostile_http
    handler.good = b"abc"
    dest = tmp_path / "d"
    dest.mkdir()
    stale, fresh, other = (dest / ".f.gz.1234.part", dest / ".f.gz.5678.part",
                           dest / ".g.gz.1.part")
    for p in (stale, fresh, other):
        p.write_bytes(b"partial")
    old = time.time() - 10
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    download_file("f.gz", dest, [url + "good/"], **FAST)  # deadline 2 s: stale is 10 s old
    assert _left(dest) == [".f.gz.5678.part", ".g.gz.1.part", "f.gz"]


def test_interrupted_download_leaves_nothing(hostile_http, tmp_path, monkeypatch):
    """Even an exception that is not a download failure (Ctrl-C) removes the partial file."""
    url, handler = hostile_http
    handler.good = b"z" * 1000
    import proxnet.data.download as dl

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "_check_pace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_file("f.gz", tmp_path / "d", [url + "good/"], **FAST)
    assert _left(tmp_path / "d") == []


@pytest.mark.parametrize("kwargs, match", [
    (dict(mirrors="http://127.0.0.1/"), "mirrors: expected a list"),
    (dict(mirrors=["file:///tmp/"]), "mirrors: expected http:// or https://"),
    (dict(mirrors=["127.0.0.1/x"]), "mirrors: expected http:// or https://"),
    (dict(mirrors=[]), "mirrors: expected 1 to 32"),
    (dict(deadline=0), "deadline: expected a number in"),
    (dict(timeout=float("nan")), "timeout: expected a number in"),
    (dict(min_rate=-1), "min_rate: expected a number in"),
    (dict(size=True), "size: expected an integer"),
    (dict(md5="abc"), "md5: expected 32 hex digits"),
    (dict(max_bytes=0), "max_bytes: expected an integer"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = {"mirrors": ["http://127.0.0.1:9/"], **kwargs}
    with pytest.raises(ValueError, match=match):
        download_file("f.gz", tmp_path, args.pop("mirrors"), **args)


@pytest.mark.parametrize("name", ["../f.gz", "a/b", "", "..", "x\0y", 3])
def test_filename_is_a_plain_name(tmp_path, name):
    with pytest.raises(ValueError, match="filename: expected a plain file name"):
        download_file(name, tmp_path / "d", ["http://127.0.0.1:9/"], **FAST)
    assert not (tmp_path / "d").exists()


def test_offline_guard_refuses_other_hosts(tmp_path):
    with pytest.raises(AssertionError, match="tried to reach the internet"):
        download_file("f.gz", tmp_path, ["http://example.invalid/"], **FAST)
