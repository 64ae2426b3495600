"""Finding dataset files on disk and downloading them on demand (stdlib ``urllib`` only).

Downloads go to a user cache, try several mirrors in turn, verify an MD5 checksum and
are written atomically (a temporary file in the destination folder, then ``os.replace``),
so the cache only ever holds complete, verified files.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

logger = logging.getLogger("proxnet.data")

DATA_ENV = "PROXNET_DATA"
"""Environment variable naming the data folder (``$PROXNET_DATA/mnist/...``)."""

CACHE_ENV = "PROXNET_CACHE"
"""Environment variable overriding the download cache folder."""


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files are neither on disk nor downloadable; the message says where to put them."""


class ChecksumError(ValueError):
    """A downloaded file does not have its published checksum (nothing is kept)."""


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


def download_file(filename: str, dest_dir, mirrors, *, md5: str | None = None,
                  timeout: float = 30.0) -> Path:
    """Download ``filename`` into ``dest_dir`` from the first mirror that serves it intact.

    Parameters
    ----------
    filename : str
        File name appended to each mirror's base URL.
    dest_dir : str or PathLike
        Destination folder (created if missing).
    mirrors : sequence of str
        Base URLs tried in order, e.g. ``["https://host/mnist/", ...]``.
    md5 : str, optional
        Expected hex MD5 of the downloaded bytes. A mismatch discards the file and tries the
        next mirror.
    timeout : float
        Seconds per connection attempt.

    Returns
    -------
    Path
        ``dest_dir / filename``, complete and verified.

    Raises
    ------
    ChecksumError
        If at least one mirror served the file but no copy had the expected checksum.
    ConnectionError
        If no mirror could be reached (the message lists each URL and its error).
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    errors: list[str] = []
    bad_checksum = False
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=f".{filename}.", suffix=".part")
        try:
            h = hashlib.md5()
            logger.info("downloading %s", url)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            if md5 is not None and digest != md5.lower():
                bad_checksum = True
                errors.append(f"{url}: MD5 {digest}, expected {md5}")
                continue
            os.replace(tmp, dest)
            return dest
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            errors.append(f"{url}: {reason}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    detail = "\n".join(f"  {e}" for e in errors) or "  (no mirrors given)"
    if bad_checksum:
        raise ChecksumError(f"{filename}: no mirror served a file with the expected checksum "
                            f"(nothing was kept in {dest_dir}):\n{detail}")
    raise ConnectionError(f"{filename}: could not download from any mirror:\n{detail}")
