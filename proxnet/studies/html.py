"""The report page: one self-contained HTML file (inline CSS, figures as ``data:`` PNG URIs,
no scripts, no external resources) that leads with the answer.

Top to bottom: the title and the study's one-line description; the **verdict** (one line
per group against its baseline); the best group and those not shown different from it;
the lead figures (paired differences, curves of all groups, the gap); the summary table;
the other figures; failed and unfinished trials; the configuration, collapsed.

Every number shown also sits, in full precision, in ``data-*`` attributes: verdict lines
(``li.verdict``: ``data-method``, ``data-strength``, ``data-n``, ``data-diff-mean``,
``data-diff-ci-low``, ``data-diff-ci-high``, ``data-p-ttest``, ``data-p-holm``,
``data-verdict``), the best group (``p.best``: ``data-method``, ``data-strength``,
``data-mean``) and the summary cells (``data-metric``, ``data-n``, ``data-mean``,
``data-std``, ``data-ci-low``, ``data-ci-high``), so tests and scripts read the page back
exactly.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import re
from html import escape

from . import stats
from .analysis import Analysis, last_line
from .formats import finite, p_phrase, p_value, page_scale, strength_text, verdict_text
from .results import VALIDATION

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1.2rem 1.5rem 3rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.lead { font-size: 1.05rem; margin: .2rem 0; }
.meta { color: #555; margin-top: .2rem; font-size: .9rem; }
section#verdict { background: #f7f9fc; border: 1px solid #dde3ee; padding: .4rem 1rem .8rem;
                  margin-top: 1rem; }
section#verdict h2 { margin-top: .6rem; }
ul.verdicts { padding-left: 1.2rem; }
li.verdict { margin: .25rem 0; }
.better { color: #1b7837; font-weight: 600; }
.worse { color: #b2182b; font-weight: 600; }
.nodiff { color: #444; font-weight: 600; }
.why { color: #666; font-size: .85rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .6rem 0; }
th, td { border: 1px solid #ddd; padding: .2rem .4rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.nodata td { color: #999; }
tr.best td:first-child { font-weight: 700; }
.bad { color: #b00020; font-weight: 600; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .9rem; margin-top: .3rem; max-width: 60rem; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; }
td code { overflow-wrap: anywhere; }
pre { background: #f7f7f9; padding: .6rem; overflow-x: auto; white-space: pre-wrap;
      overflow-wrap: anywhere; }
.note { color: #555; font-size: .85rem; max-width: 62rem; }
.live { background: #fff8e1; border: 1px solid #f0d98c; padding: .4rem .8rem; font-size: .9rem; }
details { margin: .6rem 0; }
"""


def _num(x) -> str:
    """A number for a data-* attribute: full precision (repr), empty when undefined."""
    if x is None or isinstance(x, bool):
        return ""
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ""
    return str(x)


def _attrs(**kv) -> str:
    return " ".join(f"data-{k.replace('_', '-')}='{escape(_num(v) if not isinstance(v, str) else v)}'"
                    for k, v in kv.items())


def _when(t) -> str:
    if not finite(t):
        return "?"
    return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs: blank lines separate paragraphs, single line breaks
    are spaces (so TOML's multi-line strings read as prose)."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p class='note'>{escape(p)}</p>" for p in paras)


_VERDICT_CLASS = {stats.BETTER: "better", stats.WORSE: "worse"}


def _verdict_line(a: Analysis, c, scale) -> str:
    r, study = c.result, a.study
    label, base = escape(study.label(c.group)), escape(study.label(c.baseline))
    unit = f" {scale.unit}" if scale.unit else ""
    attrs = _attrs(method=c.group[0], strength=c.group[1], n=r.n, diff_mean=r.diff_mean,
                   diff_ci_low=r.diff_ci_low, diff_ci_high=r.diff_ci_high, p_ttest=r.p_ttest,
                   p_wilcoxon=r.p_wilcoxon, p_holm=c.p_holm, verdict=c.verdict or "")
    if r.test is None:
        text = (f"{label}: n={r.n} seed(s) done in both, no test (a paired comparison needs "
                f"at least 2) vs {base}")
        return f"<li class='verdict' {attrs}>{text}</li>"
    ci = (f" [{scale.num(r.diff_ci_low, sign=True)}, {scale.num(r.diff_ci_high, sign=True)}]"
          if finite(r.diff_ci_low) else "")
    test = "paired t" if r.test == "paired t" else "Wilcoxon"
    cls = _VERDICT_CLASS.get(c.verdict, "nodiff")
    why = [n for n in c.notes if not n.startswith("Wilcoxon: with")]
    if c.verdict == stats.NO_DIFFERENCE and finite(r.mde):
        need = (f"; an effect of the observed size would need about {r.n_needed} seeds"
                if r.n_needed else "")
        why.insert(0, f"only a true difference of at least {scale.num(r.mde)}{unit} would have "
                      f"been detected with 80% power{need}")
    extra = f" <span class='why'>({escape('; '.join(why))})</span>" if why else ""
    return (f"<li class='verdict' {attrs}>{label}: {scale.num(r.diff_mean, sign=True)}{unit}"
            f"{ci} vs {base}, {p_phrase(c.p_holm)} (Holm, {test}, n = {r.n}), "
            f"<span class='{cls}'>{escape(c.verdict)}</span>{extra}</li>")


def _verdict_section(a: Analysis, scale) -> str:
    head = a.headline
    lines = [_verdict_line(a, c, scale) for ex in a.experiments
             for c in ex.comparisons.get(head.name, [])]
    m = a.family_size()
    sel = ("" if a.study.selected_on == VALIDATION else
           " <strong>No validation split:</strong> the headline is the final epoch's test "
           "metric; nothing was selected.")
    wilcoxon = any(n.startswith("Wilcoxon: with") for ex in a.experiments
                   for c in ex.comparisons.get(head.name, []) for n in c.notes)
    intro = (f"<p class='note'>Headline: {escape(head.description)}.{sel} Each group is compared "
             f"with its baseline seed by seed (mean paired difference, 95% Student-t interval), "
             f"paired t-test, Holm-adjusted over the {m} tested comparison(s), α = 0.05."
             + (" With 5 seeds or fewer the Wilcoxon signed-rank test (in comparisons.csv) "
                "cannot reach 0.05 whatever the data." if wilcoxon else "") + "</p>")
    body = (f"<ul class='verdicts'>{''.join(lines)}</ul>" if lines else
            "<p class='note'>Nothing to compare yet: no finished trial besides the baseline.</p>")
    return f"<section id='verdict'><h2>Verdict</h2>{intro}{body}{_best(a, scale)}</section>"


def _best(a: Analysis, scale) -> str:
    out = []
    for ex in a.experiments:
        b = ex.best
        if b is None:
            continue
        tied = ", ".join(escape(a.study.label(g)) for g in b.tied) or "none"
        out.append(f"<p class='best' {_attrs(method=b.group[0], strength=b.group[1], mean=b.mean)}>"
                   f"<strong>Best:</strong> {escape(a.study.label(b.group))} "
                   f"({scale.num(b.mean)}{'%' if scale.unit == 'points' else escape(scale.suffix)}, "
                   f"n = {b.n}). "
                   f"Not significantly different from it (paired, Holm): {tied}.</p>")
    return "".join(out)


def _cell(metric, st, scale, *, ci: bool) -> str:
    attrs = _attrs(metric=metric.name, n=st["n"], mean=st["mean"], std=st["std"],
                   ci_low=st["ci_low"], ci_high=st["ci_high"])
    shown = scale.mean_std(st["mean"], st["std"], st["n"])
    cell = f"<td class='num' {attrs}>{shown}</td>"
    if ci:
        interval = (f"[{scale.num(st['ci_low'])}, {scale.num(st['ci_high'])}]"
                    if st["n"] >= 2 and finite(st["ci_low"]) else "–")
        cell += f"<td class='num'>{interval}</td>"
    return cell


def _summary_section(a: Analysis, rows, *, files: bool = True) -> str:
    scales = {m.name: page_scale(percent=m.percent) for m in a.table}
    head = a.headline
    cols = "".join(f"<th title='{escape(m.description)}'>{escape(m.label + scales[m.name].suffix)}</th>"
                   + ("<th>95% CI</th>" if m is head else "") for m in a.table)
    header = (f"<tr><th>method</th><th>strength</th><th>n</th><th>not done</th>{cols}"
              f"<th>Δ vs baseline [95% CI]</th><th>p (Holm)</th><th>verdict</th></tr>")
    body = []
    for s, r in zip(a.groups, rows):
        sc = scales[head.name]
        counts = ", ".join(f"{r[k]} {k}" for k in ("failed", "timeout", "running", "pending") if r[k])
        cls = "nodata" if s.n == 0 else ("best" if r["is_best"] else "")
        diff = "–" if r["is_baseline"] else sc.diff(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"])
        body.append(
            f"<tr class='{cls}' {_attrs(method=s.group[0], strength=s.group[1])}>"
            f"<td>{escape(s.group[0])}</td><td>{escape(strength_text(s.strength_name, s.group[1]))}</td>"
            f"<td class='num'>{s.n}</td><td class='{'bad' if r['failed'] or r['timeout'] else ''}'>"
            f"{escape(counts) or '–'}</td>"
            + "".join(_cell(m, s.stats[m.name], scales[m.name], ci=m is head) for m in a.table)
            + f"<td class='num'>{diff}</td><td class='num'>"
              f"{p_value(r['p_holm']) if r['tested'] else '–'}</td>"
              f"<td>{escape(verdict_text(r))}</td></tr>")
    return (f"<h2 id='summary'>Summary over seeds</h2><table class='summary'><thead>{header}"
            f"</thead><tbody>{''.join(body)}</tbody></table>"
            f"<p class='note'>Done trials only: mean ± sample std (ddof = 1) over seeds, the 95% "
            f"Student-t interval of the headline's mean; accuracies in %, differences in points. "
            f"Δ, p and verdict as in the verdict above. Full precision and every interval: "
            + ("<a href='summary.csv'>summary.csv</a>, <a href='comparisons.csv'>comparisons.csv"
               "</a> (bootstrap CIs, Wilcoxon p, d_z, MDE), <a href='trials.csv'>trials.csv</a> "
               "(per trial: selected epoch and headline).</p>" if files else
               "<code>study.summary()</code>, <code>study.comparisons()</code> (bootstrap CIs, "
               "Wilcoxon p, d_z, MDE), <code>study.trials()</code> (per trial: selected epoch "
               "and headline).</p>"))


def _figures(figs) -> str:
    return "".join(
        f"<figure id='{escape(f['id'])}'><h2>{escape(f['title'])}</h2>"
        f"<img src='{f['src']}' alt='{escape(f['title'])}'>"
        f"<figcaption>{escape(f['caption'])}</figcaption></figure>" for f in figs)


def _trials_section(study) -> str:
    bad = [t for t in study.trials if t.status != "done"]
    if not bad:
        return "<h2 id='failed'>Failed trials</h2><p class='note'>None: every trial is done.</p>"
    rows = []
    for t in bad:
        err = t.error or ""
        detail = (f"<details><summary>traceback</summary><pre>{escape(err)}</pre></details>"
                  if err.strip().count("\n") else "")
        what = (f"{t.epochs_stored} epoch(s) stored so far" if t.status == "running"
                else escape(last_line(err)) or "(no message)")
        rows.append(f"<tr><td><code>{escape(t.key)}</code></td><td>{escape(t.method)}</td>"
                    f"<td>{escape(strength_text(t.strength_name, t.strength))}</td>"
                    f"<td class='num'>{t.seed}</td><td class='{'bad' if t.status in ('failed', 'timeout') else ''}'>"
                    f"{escape(t.status)}</td><td><code>{what}</code>{detail}</td></tr>")
    return ("<h2 id='failed'>Failed and unfinished trials</h2><p class='note'>Not in any "
            "number above.</p><table class='failed'><thead><tr><th>trial</th><th>method</th>"
            "<th>strength</th><th>seed</th><th>status</th><th>error (last line)</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _flatten(config: dict, prefix="", depth=2):
    for k, v in config.items():
        if isinstance(v, dict) and v and depth > 1:
            yield from _flatten(v, f"{prefix}{k}.", depth - 1)
        else:
            yield f"{prefix}{k}", v


def _short(value, limit=160) -> str:
    s = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return s if len(s) <= limit else s[:limit - 1] + "…"


def _config_section(study) -> str:
    rows = "".join(f"<tr><th><code>{escape(k)}</code></th><td><code>{escape(_short(v))}</code>"
                   f"</td></tr>" for k, v in _flatten(study.config) if k != "description")
    shown = {k: v for k, v in study.config.items() if k != "description"}   # shown as text
    full = escape(json.dumps(shown, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    table = f"<table>{rows}</table>" if rows else "<p class='note'>(no configuration stored)</p>"
    return (f"<h2 id='config'>Configuration</h2><details><summary>Description and settings"
            f"</summary>{_paragraphs(study.description)}{table}<details><summary>Full study "
            f"configuration (JSON)</summary><pre>{full}</pre></details></details>")


def _live(refresh) -> tuple[str, str]:
    """The head tag and the banner of a page of a running study that reloads itself."""
    if not refresh:
        return "", ""
    s = max(1, int(round(refresh)))
    return (f'<meta http-equiv="refresh" content="{s}">',
            f"<p class='live' id='live' data-refresh='{s}'>The study is running: this page "
            f"reloads itself every {s} s (<code>proxnet report --watch</code>) and stops when "
            f"the study ends. Running trials are listed below and drawn dotted, labelled "
            f"“running”; only finished trials enter the numbers.</p>")


def render(a: Analysis, rows, figures, *, refresh: float | None = None) -> str:
    """The page. ``a``: the study's :class:`~proxnet.studies.analysis.Analysis`; ``rows``:
    its summary rows; ``figures``: ``[{"id", "title", "caption", "src", "lead"}]``;
    ``refresh``: seconds after which the page of a running study reloads itself (a meta
    refresh, with a banner saying so); None for a finished study's page."""
    head_tag, banner = _live(refresh)
    study = a.study
    counts: dict = {}
    for t in study.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no trials"
    total = sum(t.duration or 0.0 for t in study.trials)
    scale = page_scale(percent=a.headline.percent)
    one_line = study.description.strip().splitlines()[0] if study.description.strip() else ""
    lead = [f for f in figures if f.get("lead")]
    rest = [f for f in figures if not f.get("lead")]
    nofig = "" if figures else "<p class='note'>No figures: no trial has finished yet.</p>"
    notes = "".join(f"<p class='note'>{escape(n)}</p>" for n in study.notes)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>proxnet study: {escape(study.name)}</title>
<link rel="icon" href="data:,">{head_tag}
<style>{CSS}</style>
</head>
<body>
<h1>Study: {escape(study.name)}</h1>
<p class="lead">{escape(one_line)}</p>
<p class="meta">{escape(study.kind)} · trials: {escape(status)} · total training time {total:.1f} s
· created {_when(study.created)} · proxnet {escape(str(study.proxnet_version))}</p>
{banner}{notes}
{_verdict_section(a, scale)}
{_figures(lead)}{nofig}
{_summary_section(a, rows)}
{_figures(rest)}
{_trials_section(study)}
{_config_section(study)}
<p class="note">Generated by <code>proxnet report</code> on {now} from <code>{escape(str(study.path))}/study.db</code>.</p>
</body>
</html>
"""


def _scoped_css(scope: str) -> str:
    """The page's CSS with every selector under ``scope`` (the page-wide ``body`` rule left
    out), so that a fragment styles itself and nothing else of a notebook."""
    out = []
    for rule in CSS.strip().split("}"):
        if "{" not in rule:
            continue
        selectors, body = rule.split("{", 1)
        sels = [x.strip() for x in selectors.split(",") if x.strip() and x.strip() != "body"]
        if sels:
            out.append(", ".join(f"{scope} {x}" for x in sels) + " {" + body + "}")
    return "\n".join(out)


def fragment(a: Analysis, rows) -> str:
    """The study as an HTML fragment for a notebook (``Study._repr_html_``): the title and
    the trials' statuses, the verdict first, then the summary table, the same sections (and
    ``data-*`` attributes) as the page, styled by CSS scoped to ``div.proxnet-study``."""
    study = a.study
    counts: dict = {}
    for t in study.trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    status = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no trials"
    scale = page_scale(percent=a.headline.percent)
    return (f"<div class='proxnet-study'><style>{_scoped_css('.proxnet-study')}</style>"
            f"<h2>Study: {escape(study.name)}</h2><p class='meta'>{escape(study.kind)} · trials: "
            f"{escape(status)} · <code>{escape(str(study.path))}</code></p>"
            f"{_verdict_section(a, scale)}{_summary_section(a, rows, files=False)}</div>")
