"""The HTML report loads in headless Chromium with no console errors and shows its plots.

A probe script is added to a copy of the page: it records script errors, failed resource
loads (capturing 'error' listener) and console.error calls, and after 'load' writes how many
images decoded. Chromium's --dump-dom prints the resulting DOM. A broken page is checked
too, so the probe is known to fail when it should.
"""
import shutil
import subprocess

import pytest

from proxnet.studies.config import validate
from proxnet.studies.report import write_report
from proxnet.studies.runner import run_study

from .test_studies import small

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                "(.ci/run installs it with apt)")

HEAD = ("<script>window.__errors=[];"
        "window.addEventListener('error',function(e){window.__errors.push(String(e.message||"
        "(e.target&&e.target.src)||'error'))},true);"
        "var __ce=console.error;console.error=function(){window.__errors.push('console.error');"
        "__ce.apply(console,arguments)};</script>")
TAIL = ("<script>window.addEventListener('load',function(){var im=[].slice.call(document.images);"
        "var ok=im.filter(function(i){return i.complete&&i.naturalWidth>0}).length;"
        "var d=document.createElement('div');d.id='probe';"
        "d.textContent='PROBE images='+ok+'/'+im.length+' errors='+window.__errors.length;"
        "document.body.appendChild(d);});</script>")


def probe(page_html: str, tmp_path) -> tuple[int, int, int, str]:
    """(decoded images, images, errors, chromium stderr) for a page."""
    assert "<head>" in page_html and "</body>" in page_html
    path = tmp_path / "probe.html"
    path.write_text(page_html.replace("<head>", "<head>" + HEAD, 1).replace("</body>", TAIL + "</body>", 1),
                    encoding="utf-8")
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", "--virtual-time-budget=10000", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=120)
    import re
    m = re.search(r"PROBE images=(\d+)/(\d+) errors=(\d+)", res.stdout)
    assert m, f"the probe did not run: {res.stdout[-500:]} {res.stderr[-2000:]}"
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    return int(m.group(1)), int(m.group(2)), int(m.group(3)) + len(console), res.stderr


def test_report_loads_in_chromium_without_errors(tmp_path):
    run_study(validate(small()), tmp_path / "s", jobs=1, progress=False)
    page = write_report(tmp_path / "s").read_text(encoding="utf-8")
    ok, total, errors, err = probe(page, tmp_path)
    assert total >= 5, "the report should hold its figures"
    assert ok == total, f"only {ok} of {total} images decoded"
    assert errors == 0, err[-2000:]


def test_probe_detects_broken_pages(tmp_path):
    broken = ("<html><head></head><body><img src='data:image/png;base64,AAAA'>"
              "<script>console.error('boom'); undefined_function();</script></body></html>")
    ok, total, errors, _ = probe(broken, tmp_path)
    assert (ok, total) == (0, 1) and errors >= 2
