"""Downloading dataset files on demand (stdlib ``urllib`` only), bounded in time and size.

Downloads go to a user cache, try several mirrors in turn, verify an MD5 checksum and
are written atomically (a temporary ``.part`` file in the destination folder, then
``os.replace``), so the cache only ever holds complete, verified files. Each attempt has an
overall deadline (a watchdog shuts the connection down when it passes, whatever the server
does), a stall timeout and a minimum average rate; the body may not exceed the expected
size (published size, else Content-Length, and a hard cap) nor fall short of it. Only
``http``/``https`` URLs are fetched, and redirects elsewhere (``file://``, ``ftp://``) are
refused. Progress is logged at INFO on the ``"proxnet.data"`` logger.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import http.client
import logging
import math
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urljoin, urlparse

from .limits import CHUNK, check_max_bytes, human

logger = logging.getLogger("proxnet.data")

DEADLINE = 900.0
"""Default overall seconds allowed for one file from one mirror."""

MIN_RATE = 4096.0
"""Default minimum average transfer rate (bytes/s), enforced once ``timeout`` seconds passed."""

MAX_DOWNLOAD = 1 << 30
"""Default hard cap on a downloaded file's size (1 GiB)."""

DATA_ENV = "PROXNET_DATA"
"""Environment variable naming the data folder (``$PROXNET_DATA/mnist/...``)."""

CACHE_ENV = "PROXNET_CACHE"
"""Environment variable overriding the download cache folder."""


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files are neither on disk nor downloadable; the message says where to put them."""


class ChecksumError(ValueError):
    """A downloaded file does not have its published checksum (nothing is kept)."""


class DownloadError(ConnectionError):
    """One download attempt failed (HTTP error, deadline, stall, too slow, too big, short
    body, refused redirect); the message names the URL and what went wrong."""


def default_cache_dir() -> Path:
    """Return the download cache: ``$PROXNET_CACHE``, else ``$XDG_CACHE_HOME/proxnet``,
    else ``~/.cache/proxnet``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "proxnet"


def md5sum(path) -> str:
    """Return the hex MD5 digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_number(value, name, low, high, *, allow_low=False):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not (low <= value if allow_low else low < value)
            or value > high):
        bound = "[" if allow_low else "("
        raise ValueError(f"{name}: expected a number in {bound}{low}, {high}], got {value!r}")
    return float(value)


def check_mirrors(mirrors) -> tuple[str, ...]:
    """Return ``mirrors`` as a tuple of http(s) base URLs, or raise ``ValueError``."""
    if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, (list, tuple)):
        raise ValueError(f"mirrors: expected a list of http(s) base URLs, got {mirrors!r}")
    if not 1 <= len(mirrors) <= 32:
        raise ValueError(f"mirrors: expected 1 to 32 base URLs, got {len(mirrors)}")
    for m in mirrors:
        if not isinstance(m, str) or urlparse(m).scheme not in ("http", "https") or not (
                urlparse(m).netloc):
            raise ValueError(f"mirrors: expected http:// or https:// base URLs, got {m!r}")
    return tuple(mirrors)


def _clean_stale(dest_dir: Path, filename: str, age: float) -> None:
    """Remove ``.part`` files of ``filename`` older than ``age`` seconds: their download
    cannot still be running (it would have hit its deadline), so a killed one left them."""
    now = time.time()
    for p in dest_dir.glob(f".{glob.escape(filename)}.*.part"):
        try:
            if now - p.stat().st_mtime > age:
                p.unlink()
                logger.info("removed stale partial download %s", p)
        except FileNotFoundError:
            pass


def download_file(filename: str, dest_dir, mirrors, *, md5: str | None = None,
                  size: int | None = None, timeout: float = 30.0,
                  deadline: float = DEADLINE, min_rate: float = MIN_RATE,
                  max_bytes: int = MAX_DOWNLOAD) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first mirror that serves it intact.

    Parameters
    ----------
    filename : str
        File name appended to each mirror's base URL.
    dest_dir : str or PathLike
        Destination folder (created if missing). Stale ``.part`` files of ``filename``
        older than ``deadline`` (left by a killed download) are removed first.
    mirrors : sequence of str
        ``http://`` or ``https://`` base URLs tried in order.
    md5 : str, optional
        Expected hex MD5 of the downloaded bytes. A mismatch discards the file and tries the
        next mirror.
    size : int, optional
        Expected size in bytes (the published size). A Content-Length that differs, or a
        body that runs past it or stops short of it, fails the attempt.
    timeout : float
        Seconds to connect, and the longest silence while receiving (a stall).
    deadline : float
        Overall seconds for one attempt (one mirror), however the server trickles bytes.
    min_rate : float
        Minimum average rate in bytes/s, checked once ``timeout`` seconds have passed
        (0 disables it).
    max_bytes : int
        Hard cap on the body's size, whatever the server declares.

    Returns
    -------
    Path
        ``dest_dir / filename``, complete and verified.

    Raises
    ------
    ChecksumError
        If at least one mirror served the file but no copy had the expected checksum.
    DownloadError
        (a ``ConnectionError``) If no mirror served it; the message lists each URL and what
        went wrong. No partial file is left behind on any failure.
    ValueError
        Bad arguments (a mirror that is not an http(s) URL, a non-positive deadline, ...).
    """
    if (not isinstance(filename, str) or filename in ("", ".", "..")
            or any(c in filename for c in "/\\\0") or len(filename) > 255):
        raise ValueError(f"filename: expected a plain file name (no folders), got "
                         f"{filename!r}")
    mirrors = check_mirrors(mirrors)
    if size is not None:
        size = check_max_bytes(size, "size")
    if md5 is not None and not (isinstance(md5, str) and len(md5) == 32
                                and all(c in "0123456789abcdefABCDEF" for c in md5)):
        raise ValueError(f"md5: expected 32 hex digits, got {md5!r}")
    limits = dict(timeout=_check_number(timeout, "timeout", 0, 86400.0),
                  deadline=_check_number(deadline, "deadline", 0, 7 * 86400.0),
                  min_rate=_check_number(min_rate, "min_rate", 0, 1e12, allow_low=True),
                  expected=size, max_bytes=check_max_bytes(max_bytes))
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    _clean_stale(dest_dir, filename, limits["deadline"])
    dest = dest_dir / filename
    errors: list[str] = []
    bad_checksum = False
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                digest = _transfer(url, out, **limits)
            if md5 is not None and digest != md5.lower():
                bad_checksum = True
                errors.append(f"{url}: MD5 {digest}, expected {md5}")
                continue
            os.replace(tmp, dest)
            return dest
        except DownloadError as exc:
            errors.append(str(exc))
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    detail = "\n".join(f"  {e}" for e in errors)
    if bad_checksum:
        raise ChecksumError(f"{filename}: no mirror served a file with the expected checksum "
                            f"(nothing was kept in {dest_dir}):\n{detail}")
    raise DownloadError(f"{filename}: could not download from any mirror:\n{detail}")


class _Watchdog:
    """Shuts down every socket of one attempt when its deadline passes; that wakes a read
    blocked anywhere (status line, headers, body, TLS), so the deadline holds whatever the
    server does."""

    def __init__(self, seconds: float):
        self.seconds, self.fired = seconds, False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self):
        with self._lock:
            self.fired = True
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def track(self, sock):
        with self._lock:
            if self.fired:
                sock.close()
                raise TimeoutError("deadline passed before connecting")
            self._sockets.append(sock)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


class _WatchedConnection:
    """Mixin: register the raw socket with the attempt's watchdog."""

    def __init__(self, *args, watchdog, **kwargs):
        super().__init__(*args, **kwargs)
        self._watchdog = watchdog
        self._create_connection = self._create_watched

    def _create_watched(self, *args, **kwargs):
        sock = socket.create_connection(*args, **kwargs)
        self._watchdog.track(sock)
        return sock


class _HTTP(_WatchedConnection, http.client.HTTPConnection):
    pass


class _HTTPS(_WatchedConnection, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watchdog):
        super().__init__()
        self._conn = functools.partial(_HTTP, watchdog=watchdog)

    def http_open(self, req):
        return self.do_open(self._conn, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watchdog):
        super().__init__()
        self._conn = functools.partial(_HTTPS, watchdog=watchdog)

    def https_open(self, req):
        return self.do_open(self._conn, req, context=self._context)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follow at most 5 redirects, only to http(s) URLs, never reading a redirect's body."""

    max_redirections = 5

    def http_error_302(self, req, fp, code, msg, headers):
        target = headers.get("location") or headers.get("uri")
        if target is not None:
            new = urljoin(req.full_url, target)
            if urlparse(new).scheme not in ("http", "https"):
                fp.close()
                raise DownloadError(f"{req.full_url}: redirected (HTTP {code}) to {new!r}, "
                                    "which is not an http(s) URL; refused")
        fp.close()  # the body of a redirect is never read (it could be endless)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _open(url: str, timeout: float, watchdog: _Watchdog):
    """Open ``url`` with redirects limited to http(s) and every socket watched."""
    opener = urllib.request.build_opener(_HTTPHandler(watchdog), _HTTPSHandler(watchdog),
                                         _Redirects())
    return opener.open(url, timeout=timeout)


def _body_limit(url, length, expected, max_bytes):
    """Most bytes the body may have: published size, else Content-Length, within the cap."""
    if expected is not None and length is not None and length != expected:
        raise DownloadError(f"{url}: Content-Length {length} differs from the expected size "
                            f"{expected}")
    limit = min(v for v in (expected, length, max_bytes) if v is not None)
    if length is not None and length > max_bytes:
        raise DownloadError(f"{url}: Content-Length {length} ({human(length)}) exceeds the "
                            f"cap of {max_bytes} bytes ({human(max_bytes)})")
    return limit


def _transfer(url, out, *, timeout, deadline, min_rate, expected, max_bytes) -> str:
    """Stream ``url`` into ``out`` within the limits; return the MD5 of the body."""
    start = time.monotonic()
    logger.info("downloading %s", url)
    with _Watchdog(deadline) as dog:
        try:
            with _open(url, timeout, dog) as r:
                length = r.length
                limit = _body_limit(url, length, expected, max_bytes)
                h, got = hashlib.md5(), 0
                while chunk := r.read1(CHUNK):
                    got += len(chunk)
                    if got > limit:
                        raise DownloadError(f"{url}: body exceeds {limit} bytes (the expected "
                                            "size); aborted")
                    h.update(chunk)
                    out.write(chunk)
                    _check_pace(url, time.monotonic() - start, got, timeout, deadline,
                                min_rate)
        except DownloadError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _failure(url, exc, dog, timeout) from None
    if dog.fired:
        raise DownloadError(f"{url}: deadline of {deadline:g} s passed after {got} bytes; "
                            "aborted")
    want = expected if expected is not None else length
    if want is not None and got != want:
        raise DownloadError(f"{url}: short body: {got} of {want} bytes received")
    logger.info("downloaded %s (%d bytes in %.1f s)", url, got, time.monotonic() - start)
    return h.hexdigest()


def _failure(url, exc, dog, timeout) -> DownloadError:
    """The one-line reason an attempt failed."""
    if isinstance(exc, urllib.error.HTTPError):
        exc.close()
        return DownloadError(f"{url}: {exc}")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if dog.fired:
        return DownloadError(f"{url}: deadline of {dog.seconds:g} s passed; aborted")
    if isinstance(reason, TimeoutError):
        return DownloadError(f"{url}: timed out (stalled: nothing received for "
                             f"{timeout:g} s)")
    return DownloadError(f"{url}: {type(reason).__name__}: {reason}")


def _check_pace(url, elapsed, got, timeout, deadline, min_rate):
    if elapsed > deadline:
        raise DownloadError(f"{url}: deadline of {deadline:g} s passed after {got} bytes; "
                            "aborted")
    if elapsed > timeout and got < min_rate * elapsed:
        raise DownloadError(f"{url}: too slow: {got} bytes in {elapsed:.1f} s, below the "
                            f"minimum rate of {min_rate:g} bytes/s; aborted")
