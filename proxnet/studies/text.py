"""The report for the terminal: one table that fits :data:`WIDTH` columns, then notes.

Columns: method, strength, n (done trials), the headline's mean ± std over seeds (accuracy
in %), Δ vs the baseline (mean paired difference, points for accuracy, with its 95% t CI),
the Holm-adjusted paired t p, and the verdict. Everything else (bootstrap CIs, Wilcoxon,
d_z, MDE, secondary metrics) is in ``report/comparisons.csv``. Plain text, no colours and
no terminal queries, so it prints the same into a pipe or a file; ``ascii=True`` (chosen
automatically when stdout cannot encode the symbols) writes +/-, d, lambda instead of ±, Δ, λ.
"""
from __future__ import annotations

import sys
import textwrap

from .formats import DASH, p_value, scale_for, strength_text, verdict_text

WIDTH = 100
_ASCII = {"±": "+/-", "Δ": "d", "λ": "lambda", "−": "-", "–": "-", "…": "~", "≤": "<=",
          "α": "alpha", "×": "x"}


def _scale(rows):
    return scale_for([r[f"{r['headline']}_mean"] for r in rows], percent=rows[0]["percent"])


def _cells(r, scale, interval, prefix):
    h = r["headline"]
    mark = "*" if r["is_best"] else ""
    return [mark + r["method"][len(prefix):], strength_text(r["strength_name"], r["strength"]), str(r["n"]),
            scale.mean_std(r[f"{h}_mean"], r[f"{h}_std"], r[f"{h}_n"]),
            DASH if r["is_baseline"] else scale.diff(r["diff_mean"], r["diff_ci_low"],
                                                     r["diff_ci_high"], interval=interval),
            p_value(r["p_holm"]) if r["tested"] else DASH, verdict_text(r)]


def _layout(header, body, width):
    """Lines of the table (``header``: two rows); the method column (0) is cut to make the
    table fit ``width``."""
    rows = [*header, *body]
    widths = [max(len(c[i]) for c in rows) for i in range(len(header[0]))]
    room = width - sum(widths[1:-1]) - max(len(c[-1]) for c in rows) - 2 * (len(widths) - 1)
    widths[0] = max(6, min(widths[0], room))

    def cut(s, w):
        return s if len(s) <= w else s[:w - 1] + "…"

    right = {2, 3, 4, 5}
    lines = []
    for cells in [*header, None, *body]:
        if cells is None:
            lines.append("  ".join("-" * w for w in widths))
            continue
        cells = [cut(cells[0], widths[0]), *cells[1:]]
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    return lines


def _prefix(rows) -> str:
    """The 'label/' that every method of an experiment of a [[datasets]] study starts with."""
    heads = {r["method"].split("/", 1)[0] + "/" if "/" in r["method"] else "" for r in rows}
    return heads.pop() if len(heads) == 1 else ""


def _table(rows, width, tr, prefix=""):
    scale = _scale(rows)
    top = ["", "", "", rows[0]["headline_label"], "Δ vs baseline", "p", ""]
    unit = "%" if scale.unit == "points" else scale.suffix.strip(" ()")
    bottom = ["method", "strength", "n", f"{unit} mean ± sd".strip(), "[95% CI]",
              "Holm", "verdict"]
    header = [[tr(h) for h in top], [tr(h) for h in bottom]]
    for interval in (True, False):
        if not interval:
            header[1][4] = ""
        body = [[tr(c) for c in _cells(r, scale, interval, prefix)] for r in rows]
        lines = [tr(ln) for ln in _layout(header, body, width)]   # the cut's "…" too
        if max(map(len, lines)) <= width:
            break
    return lines, scale, interval


def _notes(parts, scales, interval) -> list[str]:
    rows = [r for part in parts for r in part]
    r0 = rows[0]
    baselines = ", ".join(part[0]["baseline"] for part in parts)
    unit = f" in {scales[0].unit}" if scales[0].unit else ""
    sizes = [str(part[0]["family_size"]) for part in parts]
    family = (f"over {sizes[0]} comparison(s)" if len(parts) == 1 else
              f"within each dataset ({', '.join(sizes)} comparisons)")
    notes = [f"headline: {r0['headline_description']}; mean ± std over the seeds of done trials.",
             f"Δ: mean paired difference (same seeds) vs {baselines}{unit}"
             + (", with its 95% Student-t CI" if interval else "")
             + f"; p: paired t-test, Holm-adjusted {family}; verdict at α = 0.05. Bootstrap "
             "CIs, Wilcoxon p, d_z and MDE: comparisons.csv."]
    if r0["selected_on"] != "validation":
        notes.append("no validation split: the headline is the final epoch's test metric "
                     "(nothing selected).")
    for part, scale in zip(parts, scales):
        for b in (r for r in part if r["is_best"]):
            tied = [r["label"] for r in part if r["tied_with_best"]]
            mean = b[f"{b['headline']}_mean"]
            shown = f"{scale.num(mean)}%" if scale.unit == "points" else format(mean, ".4g")
            notes.append(f"* best: {b['label']} ({shown}); not shown different from it: "
                         f"{', '.join(tied) if tied else 'none'}.")
    if any(r["n"] == 1 for r in rows):
        notes.append("n=1: one done seed, no spread and no test.")
    running = [f"{r['label']} ({r['running']})" for r in rows if r["running"]]
    if running:
        notes.append(f"still running, not counted: {', '.join(running)}.")
    for r in rows:
        for seed, status, msg in r["errors"][:3]:
            notes.append(f"{status}: {r['label']} seed {seed}: {msg or '(no message)'}")
        if len(r["errors"]) > 3:
            notes.append(f"… and {len(r['errors']) - 3} more {r['label']} trials not done")
    return notes


def _ascii(text: str) -> str:
    for k, v in _ASCII.items():
        text = text.replace(k, v)
    return text.encode("ascii", "replace").decode("ascii")


def _stdout_encodes(sample: str) -> bool:
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        sample.encode(enc)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def format_table(rows: list[dict], *, width: int = WIDTH, ascii: bool | None = None) -> str:
    """The terminal report of summary rows (:func:`proxnet.studies.analysis.summary_rows`):
    the table, then notes wrapped to ``width``. ``ascii``: None = only if stdout cannot
    encode the symbols (±, Δ, λ, …)."""
    if not rows:
        return "no trials in the store"
    if ascii is None:
        ascii = not _stdout_encodes("".join(_ASCII) + "".join(r["label"] for r in rows))
    tr = _ascii if ascii else (lambda s: s)
    parts = {}
    for r in rows:
        parts.setdefault(r["experiment"], []).append(r)
    lines, scales, intervals = [], [], []
    for part in parts.values():
        prefix = _prefix(part) if len(parts) > 1 else ""
        if len(parts) > 1:
            lines += [tr(f"{prefix.rstrip('/') or 'experiment'}: vs {part[0]['baseline']}"), ""]
        table, scale, interval = _table(part, width, tr, prefix)
        lines += table + ([""] if len(parts) > 1 else [])
        scales.append(scale)
        intervals.append(interval)
    notes = []
    for note in _notes(list(parts.values()), scales, all(intervals)):
        notes += textwrap.wrap(tr(note), width, subsequent_indent="  ", break_on_hyphens=False)
    return "\n".join(lines + ([""] if len(parts) == 1 else []) + notes)
