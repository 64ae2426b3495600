"""`proxnet report --watch` in headless Chromium, against a study that is running: one page,
opened once and never reloaded by the test, first shows the running study (the live banner,
a running trial, its partial curve) and later, having reloaded itself, the finished study;
then it stops reloading.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``:
NUL-terminated JSON on file descriptors 3 and 4), so no websocket package is needed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                 "(.ci/run installs it with apt)"), pytest.mark.slow]

CONFIG = """
name = "watched"
seeds = 2
[dataset]
name = "digits"
[model]
hidden = [32]
[training]
epochs = {epochs}
batch_size = 64
[[methods]]
name = "none"
"""
STATE = ("JSON.stringify({origin: performance.timeOrigin, ready: document.readyState,"
         " live: !!document.getElementById('live'),"
         " meta: !!document.querySelector('meta[http-equiv=refresh]'),"
         " text: document.body ? document.body.innerText : ''})")


class DevTools:
    """The DevTools protocol over Chromium's debugging pipe."""

    def __init__(self, tmp_path: Path):
        self.cmd_r, self.cmd_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "about:blank"]
        # the shell puts our pipe ends on fds 3 (commands in) and 4 (replies out)
        line = " ".join(f"'{a}'" for a in args) + f" 3<&{self.cmd_r} 4>&{self.res_w}"
        self.proc = subprocess.Popen(["bash", "-c", f"exec {line}"], pass_fds=(self.cmd_r, self.res_w),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(self.cmd_r)
        os.close(self.res_w)
        self.buf, self.next_id, self.session = b"", 0, None

    def call(self, method, timeout=60, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    assert "error" not in reply, reply
                    return reply["result"]
            chunk = os.read(self.res_r, 1 << 20)
            assert chunk, "Chromium closed its debugging pipe"
            self.buf += chunk
        raise AssertionError(f"no reply to {method}")

    def open(self, url):
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def state(self) -> dict:
        res = self.call("Runtime.evaluate", expression=STATE, returnByValue=True)
        value = res.get("result", {}).get("value")
        return json.loads(value) if value else {}

    def close(self):
        self.proc.kill()
        self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.res_r)


def _until(pred, limit, what):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {limit} s")


def _running_epochs(db: Path) -> int:
    import sqlite3
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COALESCE(MAX(epochs_done), 0) FROM trial WHERE status = 'running'").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_watched_report_reloads_itself_until_the_study_ends(tmp_path):
    cfg, out = tmp_path / "w.toml", tmp_path / "s"
    cfg.write_text(CONFIG.format(epochs=600))
    py = [sys.executable, "-m", "proxnet"]
    study = subprocess.Popen(py + ["study", str(cfg), "--out", str(out), "-j", "1", "--no-report",
                                   "--no-progress", "-q"])
    watcher = browser = None
    try:
        _until(lambda: _running_epochs(out / "study.db") > 0, 120, "running trial")
        watcher = subprocess.Popen(py + ["report", str(out), "--watch", "--interval", "1", "-q"],
                                   stdout=subprocess.DEVNULL)
        page = out / "report" / "index.html"
        _until(page.is_file, 120, "report page")
        browser = DevTools(tmp_path)
        browser.open(page.as_uri())
        origins = set()

        def seen(cond):
            s = browser.state()
            if s:
                origins.add(s["origin"])
            return s if s and s["ready"] == "complete" and cond(s) else None   # a whole page

        # a page of the running study with a running trial listed (its stored epochs) and
        # drawn. Both in one wait: a page written just as a trial starts lists it with
        # "0 epoch(s) stored so far" and, rightly, no curve for it yet.
        running_curve = 'Running trials (dotted, light, labelled "running")'
        live = _until(lambda: seen(lambda s: s["live"] and "epoch(s) stored so far" in s["text"]
                                   and running_curve in s["text"]),
                      90, "live page with a running trial and its curve")
        assert live["meta"] and "reloads itself every 1 s" in live["text"]
        final = _until(lambda: seen(lambda s: not s["meta"] and "every trial is done" in s["text"]),
                       180, "final page")
        assert not final["live"] and "trials: 2 done" in final["text"]
        assert len(origins) >= 2, "the page never reloaded itself"
        time.sleep(3)                                                # it stopped reloading
        assert browser.state()["origin"] == final["origin"]
        assert watcher.wait(60) == 0 and study.wait(60) == 0
    finally:
        for proc in (study, watcher):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if browser is not None:
            browser.close()
