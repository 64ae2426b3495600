"""Workers die with their study: a daemon thread in each worker process that ends the
process within a fraction of a second once the study's main process is gone.

The study's process passes its identity (:func:`identity`: PID and start time) to its
workers; :func:`watch` checks it four times a second. A process counts as gone when its
PID no longer exists, is a zombie (killed but not yet reaped), or belongs to a newer
process (PID reuse: another start time). This covers any way the main process can die
(``kill -9`` included), for direct children (the local pool) and for grandchildren alike
(Dask workers started by a nanny).
"""
from __future__ import annotations

import os
import threading

__all__ = ["identity", "alive", "watch"]

_watching: dict = {}


def _stat(pid: int):
    """(state, start time) of ``pid`` from /proc, or None when it does not exist; raises
    OSError where /proc is missing."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except FileNotFoundError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], fields[19]          # state, starttime (clock ticks since boot)


def identity(pid: int | None = None) -> tuple[int, str | None]:
    """(PID, start time) of a process (default: this one)."""
    pid = os.getpid() if pid is None else pid
    try:
        st = _stat(pid)
    except OSError:
        return pid, None
    return pid, None if st is None else st[1]


def alive(ident) -> bool:
    """Whether the process ``identity()`` returned is still running."""
    pid, start = ident
    try:
        st = _stat(pid)
    except OSError:   # no /proc (not Linux): signal 0 tells whether the PID exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if st is None or st[0] in ("Z", "X"):
        return False
    return start is None or st[1] == start


def watch(ident, interval: float = 0.25) -> None:
    """End this process (``os._exit(70)``) soon after the process ``ident`` is gone.
    Starts one daemon thread per watched process; calling again is free."""
    if ident is None:
        return
    ident = (int(ident[0]), ident[1])
    if ident[0] == os.getpid() or ident in _watching:
        return
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            if not alive(ident):
                os._exit(70)

    t = threading.Thread(target=loop, name=f"proxnet-watchdog-{ident[0]}", daemon=True)
    _watching[ident] = stop
    t.start()
