"""The HTML report in headless Chromium at a 1280-pixel viewport: no console errors, every
image decoded, the verdict before the first figure, and nothing wider than the viewport.

A probe script is added to a copy of the page: it records script errors, failed resource
loads (capturing 'error' listener) and console.error calls, and after 'load' writes how many
images decoded, ``document.documentElement.scrollWidth``, the widest element's right edge,
and whether the verdict section precedes the first figure. Chromium's --dump-dom prints the
resulting DOM. Broken and too-wide pages are checked too, so the probe is known to fail
when it should.
"""
import re
import shutil
import subprocess

import pytest

from proxnet.studies.config import validate
from proxnet.studies.report import write_report
from proxnet.studies.runner import run_study

from .test_report import make_study, rename_method
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
        "var right=0;[].slice.call(document.body.querySelectorAll('*')).forEach(function(e){"
        "var r=e.getBoundingClientRect();if(r.right>right)right=r.right;});"
        "var v=document.getElementById('verdict'),f=document.querySelector('figure');"
        "var first=v&&(!f||(v.compareDocumentPosition(f)&Node.DOCUMENT_POSITION_FOLLOWING))?1:0;"
        "var d=document.createElement('div');d.id='probe';"
        "d.textContent='PROBE images='+ok+'/'+im.length+' errors='+window.__errors.length+"
        "' scroll='+document.documentElement.scrollWidth+' right='+Math.ceil(right)+"
        "' inner='+window.innerWidth+' verdict_first='+first;"
        "document.body.appendChild(d);});</script>")
PROBE = re.compile(r"PROBE images=(\d+)/(\d+) errors=(\d+) scroll=(\d+) right=(\d+) "
                   r"inner=(\d+) verdict_first=(\d)")


def probe(page_html: str, tmp_path) -> dict:
    """What the probe saw in a page, plus Chromium's console errors and stderr."""
    assert "<head>" in page_html and "</body>" in page_html
    path = tmp_path / "probe.html"
    path.write_text(page_html.replace("<head>", "<head>" + HEAD, 1).replace("</body>", TAIL + "</body>", 1),
                    encoding="utf-8")
    res = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", "--hide-scrollbars", "--window-size=1280,900",
                          "--virtual-time-budget=10000", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=180)
    m = PROBE.search(res.stdout)
    assert m, f"the probe did not run: {res.stdout[-500:]} {res.stderr[-2000:]}"
    console = [line for line in res.stderr.splitlines() if "CONSOLE" in line and "ERROR" in line.upper()]
    ok, total, errors, scroll, right, inner, first = map(int, m.groups())
    return {"ok": ok, "images": total, "errors": errors + len(console), "scroll": scroll,
            "right": right, "inner": inner, "verdict_first": bool(first), "stderr": res.stderr}


def check(page, tmp_path, min_images=5):
    p = probe(page, tmp_path)
    assert p["inner"] == 1280, p
    assert p["images"] >= min_images, "the report should hold its figures"
    assert p["ok"] == p["images"], f"only {p['ok']} of {p['images']} images decoded"
    assert p["errors"] == 0, p["stderr"][-2000:]
    assert p["verdict_first"], "the verdict must come before the figures"
    assert p["scroll"] <= 1280 and p["right"] <= 1280, p
    return p


def test_report_of_a_real_study_in_chromium(tmp_path):
    cfg = small(dataset={"name": "digits", "options": {"val_size": 200}})
    run_study(validate(cfg), tmp_path / "s", jobs=1, progress=False)
    check(write_report(tmp_path / "s").read_text(encoding="utf-8"), tmp_path)


def test_wide_study_fits_1280_pixels(tmp_path):
    """Many groups, long names, failed and running trials: still no horizontal scroll."""
    d = make_study(tmp_path / "s")
    rename_method(d, "maxnorm", "an-unusually-long-method-name-for-the-table")
    check(write_report(d).read_text(encoding="utf-8"), tmp_path)


def test_probe_detects_broken_and_wide_pages(tmp_path):
    broken = ("<html><head></head><body><img src='data:image/png;base64,AAAA'>"
              "<script>console.error('boom'); undefined_function();</script></body></html>")
    p = probe(broken, tmp_path)
    assert (p["ok"], p["images"]) == (0, 1) and p["errors"] >= 2 and not p["verdict_first"]
    wide = ("<html><head></head><body><figure></figure><section id='verdict'></section>"
            "<table><tr><td style='white-space:nowrap'>" + "x" * 400 + "</td></tr></table>"
            "</body></html>")
    p = probe(wide, tmp_path)
    assert p["scroll"] > 1280 and not p["verdict_first"]
