"""`proxnet study` on a terminal: a pseudo-terminal sees the bar's epoch count advance inside
the first (long) trial, before any trial is done, with the running count and an ETA."""
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

pty = pytest.importorskip("pty", reason="no pseudo-terminals on this platform")

CONFIG = """
name = "long"
seeds = 2
[dataset]
name = "digits"
[model]
hidden = [32]
[training]
epochs = 3000
batch_size = 64
[[methods]]
name = "none"
"""
BAR = re.compile(r"long:.*?(\d+)/(\d+) \[[^<\]]*<([^,\]]+),([^\]]*)\]")   # n/total [elapsed<eta, rate, counts]


def _read(fd, seconds):
    out, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:          # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def test_terminal_bar_counts_epochs_of_a_running_trial(tmp_path):
    cfg = tmp_path / "long.toml"
    cfg.write_text(CONFIG)
    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.Popen([sys.executable, "-m", "proxnet", "study", str(cfg), "--out",
                             str(tmp_path / "s"), "--jobs", "1", "--no-report"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        text, seen = "", []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(set(seen)) < 3:
            text += _read(master, 1.0)
            seen = [int(m.group(1)) for m in BAR.finditer(text.replace("\r", "\n"))
                    if "done" not in m.group(4)]
        assert proc.poll() is None, text[-2000:]
        states = [m for m in BAR.finditer(text.replace("\r", "\n")) if "done" not in m.group(4)]
        counts = [int(m.group(1)) for m in states]
        assert len(set(counts)) >= 3, text[-2000:]          # it moved inside the first trial
        assert counts == sorted(counts) and max(counts) < 3000
        assert {int(m.group(2)) for m in states} == {6000}    # epochs planned over both trials
        assert "1 running" in states[-1].group(4)
        assert re.match(r"\d\d:\d\d", states[-1].group(3).strip()), states[-1].group(0)  # an ETA
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 130
