"""The progress of a running study, read from its store: epochs done / planned over the trials
to run (running trials write their epochs as they go, so it moves inside long trials, with
any executor), an ETA, and the running / done / failed / timed-out counts.

Three modes:

- ``"bar"``: a tqdm bar refreshed twice a second by a thread: the notebook widget in a
  Jupyter kernel, the text bar on a terminal (:func:`proxnet.training.callbacks.progress_bar_class`);
- ``"line"``: no bar (stderr is not a terminal: a log file, a pipe, CI), one line at the end,
  logged at INFO on ``"proxnet.studies"``;
- ``"off"``: nothing.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time

from ..training.callbacks import in_notebook, progress_bar_class
from .store import open_readonly, read_progress

__all__ = ["StudyProgress", "choose_mode", "status_text", "INTERVAL"]

log = logging.getLogger("proxnet.studies")
INTERVAL = 0.5
"""Seconds between reads of the store."""
_ORDER = ("running", "done", "failed", "timeout")


def choose_mode(progress: bool | None) -> str:
    """``progress`` True: a bar; False: nothing; None: a bar in a notebook or on a terminal
    (stderr), else a final line."""
    if progress is not None:
        return "bar" if progress else "off"
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return "bar" if tty or in_notebook() else "line"


def status_text(counts: dict) -> str:
    """``"2 running, 5 done, 1 failed"``: the counts of the statuses that occur."""
    return ", ".join(f"{counts[s]} {s}" for s in _ORDER if counts.get(s))


def _width() -> dict:
    """tqdm's width option: follow the terminal's width when it has one; a pseudo-terminal of
    size 0 (``script``, CI runners) gets ``$COLUMNS`` × ``$LINES`` or 100 × 24, not an empty
    line (tqdm hides bars below the screen's height)."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
        if size.columns > 0 and size.lines > 0:
            return {"dynamic_ncols": True}
    except (AttributeError, OSError, ValueError):
        pass
    columns, lines = shutil.get_terminal_size((100, 24))
    return {"ncols": columns or 100, "nrows": lines or 24}   # tqdm hides a bar past 0 rows


class StudyProgress:
    """Progress of the trials ``keys`` of the study in ``study_dir`` (see the module doc)."""

    def __init__(self, study_dir, keys, name: str, mode: str = "bar"):
        if mode not in ("bar", "line", "off"):
            raise ValueError(f"mode: expected 'bar', 'line' or 'off', got {mode!r}")
        self.dir, self.keys, self.name, self.mode = study_dir, list(keys), name, mode
        self.stop, self.start = threading.Event(), time.monotonic()
        self.done = self.planned = 0
        self.counts: dict = {}
        self.bar = self._bar() if mode == "bar" else None
        self.thread = None
        if self.bar is not None:
            self.thread = threading.Thread(target=self._loop, daemon=True, name="proxnet-progress")
            self.thread.start()

    def _bar(self):
        cls = progress_bar_class()
        if cls is None:                      # no tqdm: the final line only
            self.mode = "line"
            return None
        return cls(total=0, desc=self.name, unit="epoch", file=sys.stderr, leave=True,
                   **({} if in_notebook() else _width()))

    def _loop(self):
        conn = None
        while not self.stop.wait(INTERVAL):
            try:
                conn = conn or open_readonly(self.dir)
                self.update(conn)
            except Exception:  # noqa: BLE001 - progress is best effort
                pass
        if conn is not None:
            conn.close()

    def read(self, conn) -> None:
        """Read epochs done / planned and the counts from the store."""
        self.done, self.planned, self.counts = read_progress(conn, self.keys)

    def update(self, conn) -> None:
        """Read the store and redraw the bar; the ETA comes from this run's pace (epochs
        already done when it started, e.g. resumed trials, do not count as speed)."""
        first = self.bar is not None and self.bar.total == 0 and self.bar.n == 0
        self.read(conn)
        if self.bar is None:
            return
        self.bar.total = self.planned
        if first:
            self.bar.n = self.bar.initial = self.bar.last_print_n = self.done
        elif self.done > self.bar.n:
            self.bar.update(self.done - self.bar.n)
        self.bar.set_postfix_str(status_text(self.counts), refresh=False)
        self.bar.refresh()

    def write(self, text: str) -> None:
        """A line above the bar (or on stderr when there is none)."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        elif self.mode != "off":
            print(text, file=sys.stderr)

    def summary(self) -> str:
        return (f"{self.name}: {self.done}/{self.planned} epochs, "
                f"{status_text(self.counts) or 'no trial'}, {time.monotonic() - self.start:.1f} s")

    def close(self) -> None:
        """Stop the thread, draw the final state; in ``"line"`` mode log it."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(2)
        if self.mode == "off":
            return
        try:
            conn = open_readonly(self.dir)
            try:
                self.update(conn)
            finally:
                conn.close()
        except Exception:  # noqa: BLE001 - progress is best effort
            pass
        if self.bar is not None:
            self.bar.close()
        else:
            log.info("%s", self.summary())
