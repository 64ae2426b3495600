"""The report page: one self-contained HTML file (inline CSS, figures as ``data:`` PNG URIs,
no scripts, no external resources).

Every number in the summary table also sits, in full precision, in ``data-*`` attributes of
its cell (``data-metric``, ``data-n``, ``data-mean``, ``data-std``, ``data-ci-low``,
``data-ci-high``), so tests and scripts can read the page's figures back exactly.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from html import escape

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1.5rem 2rem 3rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ci { color: #555; font-size: .8rem; }
tr.nodata td { color: #999; }
.bad { color: #b00020; font-weight: 600; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .9rem; margin-top: .3rem; max-width: 60rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; }
pre { background: #f7f7f9; padding: .6rem; overflow-x: auto; }
nav ul { columns: 2; font-size: .9rem; }
.note { color: #555; font-size: .85rem; max-width: 60rem; }
"""


def _num(x) -> str:
    """A number for a data-* attribute: full precision, empty when missing or undefined."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return repr(float(x)) if isinstance(x, float) else str(x)


def _when(t) -> str:
    if t is None:
        return "?"
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _short(value, limit=160) -> str:
    s = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _flatten(config: dict, prefix="", depth=2):
    for k, v in config.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v and depth > 1:
            yield from _flatten(v, name + ".", depth - 1)
        else:
            yield name, v


def last_line(text) -> str:
    """The last non-empty line of an error text (the exception message of a traceback)."""
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _config_section(study) -> str:
    rows = "".join(f"<tr><th><code>{escape(k)}</code></th><td><code>{escape(_short(v))}</code></td></tr>"
                   for k, v in _flatten(study.config))
    full = escape(json.dumps(study.config, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    body = f"<table>{rows}</table>" if rows else "<p class='note'>(no configuration stored)</p>"
    return (f"<h2 id='config'>Configuration</h2>{body}"
            f"<details><summary>Full study configuration (JSON)</summary><pre>{full}</pre></details>")


def _summary_section(rows, labels, formats, fmt, descriptions) -> str:
    metrics = [k[:-5] for k in rows[0] if k.endswith("_mean")] if rows else []
    head1 = ("<tr><th rowspan='2'>method</th><th rowspan='2'>strength</th><th rowspan='2'>n</th>"
             "<th rowspan='2'>failed</th><th rowspan='2'>timeout</th>"
             + "".join(f"<th colspan='2' title='{escape(descriptions.get(m, m))}'>{escape(labels.get(m, m))}</th>"
                       for m in metrics) + "</tr>")
    head2 = "<tr>" + "<th>mean ± std</th><th>95% CI</th>" * len(metrics) + "</tr>"
    body = []
    for r in rows:
        strength = "–" if r["strength"] is None else format(r["strength"], "g")
        cls = " class='nodata'" if r["n"] == 0 else ""
        cells = [f"<td>{escape(r['method'])}</td>", f"<td class='num'>{strength}</td>",
                 f"<td class='num'>{r['n']}</td>",
                 f"<td class='num{' bad' if r['failed'] else ''}'>{r['failed']}</td>",
                 f"<td class='num{' bad' if r['timeout'] else ''}'>{r['timeout']}</td>"]
        for m in metrics:
            spec = formats(m)
            n, mean, std = r[f"{m}_n"], r[f"{m}_mean"], r[f"{m}_std"]
            lo, hi = r[f"{m}_ci_low"], r[f"{m}_ci_high"]
            shown = "–" if n == 0 else f"{fmt(mean, spec)} ± {fmt(std, spec)}"
            ci = "–" if n < 2 or not math.isfinite(lo) else f"[{fmt(lo, spec)}, {fmt(hi, spec)}]"
            attrs = (f"data-metric='{escape(m)}' data-n='{n}' data-mean='{_num(mean)}' "
                     f"data-std='{_num(std)}' data-ci-low='{_num(lo)}' data-ci-high='{_num(hi)}'")
            cells.append(f"<td class='num' {attrs}>{shown}</td><td class='num ci'>{ci}</td>")
        body.append(f"<tr{cls} data-method='{escape(r['method'])}' "
                    f"data-strength='{_num(r['strength'])}'>{''.join(cells)}</tr>")
    unfinished = sum(r.get("unfinished", 0) for r in rows)
    extra = (f"<p class='note'>{unfinished} trial(s) still pending or running are not counted.</p>"
             if unfinished else "")
    return (f"<h2 id='summary'>Summary over seeds</h2>"
            f"<table class='summary'><thead>{head1}{head2}</thead><tbody>{''.join(body)}</tbody></table>"
            f"{extra}<p class='note'>Per method and strength, over the trials that finished "
            f"(<code>status = 'done'</code>): mean ± sample standard deviation (ddof = 1) across seeds, "
            f"and the 95% confidence interval of the mean, mean ± t<sub>0.975, n−1</sub>·std/√n "
            f"(Student t). “–”: undefined (no done trial, or n = 1). Failed and timed-out trials are "
            f"counted in their own columns and listed below. Full-precision numbers: "
            f"<a href='summary.csv'>summary.csv</a>.</p>")


def _failed_section(study) -> str:
    bad = [t for t in study.trials if t.status in ("failed", "timeout")]
    if not bad:
        return "<h2 id='failed'>Failed trials</h2><p class='note'>None: every finished trial succeeded.</p>"
    rows = []
    for t in bad:
        strength = "–" if t.strength is None else format(t.strength, "g")
        err = t.error or ""
        detail = (f"<details><summary>traceback</summary><pre>{escape(err)}</pre></details>"
                  if err.strip().count("\n") else "")
        rows.append(f"<tr><td><code>{escape(t.key)}</code></td><td>{escape(t.method)}</td>"
                    f"<td class='num'>{strength}</td><td class='num'>{t.seed}</td>"
                    f"<td class='bad'>{escape(t.status)}</td>"
                    f"<td><code>{escape(last_line(err)) or '(no message)'}</code>{detail}</td></tr>")
    return ("<h2 id='failed'>Failed trials</h2><table class='failed'><thead><tr><th>trial</th>"
            "<th>method</th><th>strength</th><th>seed</th><th>status</th><th>error (last line)</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def render(study, rows, figures) -> str:
    """The page. ``study``: a :class:`proxnet.studies.report.Study`; ``rows``: its summary rows;
    ``figures``: ``[{"id", "title", "caption", "src"}]`` with ``src`` a ``data:`` URI."""
    from .report import METRIC_DESCRIPTIONS, METRIC_LABELS, fmt, metric_format

    counts = {}
    for t in study.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no trials"
    total = sum(t.duration or 0.0 for t in study.trials)
    name = escape(study.name)
    nav = ("<nav><ul><li><a href='#config'>Configuration</a></li><li><a href='#summary'>Summary</a></li>"
           + "".join(f"<li><a href='#{escape(f['id'])}'>{escape(f['title'])}</a></li>" for f in figures)
           + "<li><a href='#failed'>Failed trials</a></li></ul></nav>")
    figs = "".join(
        f"<figure id='{escape(f['id'])}'><h2>{escape(f['title'])}</h2>"
        f"<img src='{f['src']}' alt='{escape(f['title'])}'>"
        f"<figcaption>{escape(f['caption'])}</figcaption></figure>" for f in figures)
    if not figures:
        figs = "<h2>Figures</h2><p class='note'>No figures: no trial has finished yet.</p>"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>proxnet study: {name}</title>
<link rel="icon" href="data:,">
<style>{CSS}</style>
</head>
<body>
<h1>Study: {name}</h1>
<p class="meta">{escape(study.kind)} · created {_when(study.created)} · proxnet {escape(str(study.proxnet_version))}
· trials: {escape(status)} · total training time {total:.1f} s</p>
{nav}
{_config_section(study)}
{_summary_section(rows, METRIC_LABELS, metric_format, fmt, METRIC_DESCRIPTIONS)}
{figs}
{_failed_section(study)}
<p class="note">Generated by <code>proxnet report</code> on {now} from <code>{escape(str(study.path))}/study.db</code>.</p>
</body>
</html>
"""
