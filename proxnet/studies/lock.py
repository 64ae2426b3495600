"""One study per folder: an exclusive lock on ``<study_dir>/study.lock``.

:class:`StudyLock` takes an exclusive ``fcntl.flock`` on the lock file for as long as a study
runs and writes the holder's PID, host, start time and command line into it. The operating
system releases the lock when the process ends, however it ends (``kill -9`` included), so a
crashed study never leaves a stale lock. A second study on the same folder fails at once
with :class:`StudyLocked` naming the holder. Readers (``proxnet report``, ``proxnet
export``) take no lock: they open the store read-only and may run at any time.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path

from .store import StoreWriteError

__all__ = ["StudyLock", "StudyLocked", "LOCK_NAME", "holder", "held"]

LOCK_NAME = "study.lock"


class StudyLocked(RuntimeError):
    """The study folder is held by another running study."""

    def __init__(self, message: str, info: dict):
        super().__init__(message)
        self.info = info


def holder(study_dir) -> dict:
    """What the lock file says about its holder (empty when unreadable)."""
    try:
        data = json.loads((Path(study_dir) / LOCK_NAME).read_text(encoding="utf-8")[:10_000])
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def held(study_dir) -> bool:
    """Whether a study is running in ``study_dir`` now (its lock is held, by any process,
    this one included); a folder without a lock file holds none."""
    try:
        fd = os.open(Path(study_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class StudyLock:
    """``with StudyLock(study_dir):`` holds the folder's lock (creating the folder)."""

    def __init__(self, study_dir):
        self.dir = Path(study_dir)
        self.path = self.dir / LOCK_NAME
        self.fd = None

    def acquire(self) -> StudyLock:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreWriteError(f"{self.path}: cannot create the study's lock file "
                                  f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            info = holder(self.dir)
            who = f"process {info.get('pid', '?')} on {info.get('host', '?')}"
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"])) \
                if isinstance(info.get("started"), (int, float)) else "?"
            raise StudyLocked(f"{self.dir} is in use by another running study ({who}, since "
                              f"{since}: {info.get('command', '?')}); wait for it to finish, "
                              f"or use another --out folder", info) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "command": " ".join(sys.argv)[:2000]}
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(info).encode())
        except OSError:
            pass    # the lock is what matters; the note is for the message above
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
