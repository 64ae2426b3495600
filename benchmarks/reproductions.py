"""The tables of docs/reproductions.md: each classic experiment's published figures beside
proxnet's mean ± std [95% CI] over the seeds of its faithful recipe, read from the study
folders (report/trials.csv, and the store for a figure at a given epoch), never typed in.

    python benchmarks/reproductions.py RUNS            # print the tables (markdown)
    python benchmarks/reproductions.py RUNS --update docs/reproductions.md

RUNS holds one study folder per recipe, named after it (``RUNS/cs231n-sigmoid-vs-relu``,
...), as written by ``proxnet study <recipe> --out RUNS/<recipe>``, and possibly parts
``RUNS/<recipe>+<part>`` (some of its grid points run as their own study: the same trial
configs, so the same results); each folder needs its report (``proxnet report DIR``). ``--update`` replaces
the text between ``<!-- table:<recipe> -->`` and ``<!-- /table -->`` in the page. A recipe
whose folder is missing or unfinished gets a line saying so instead of numbers.
"""
from __future__ import annotations

import argparse
import csv
import glob
import math
import re
import sqlite3
import sys
from pathlib import Path

from proxnet.studies.analysis import mean_ci

# (method, strength or None, metric) -> the published figure (a fraction), with its source
PUBLISHED = {
    "cs231n-sigmoid-vs-relu": {
        ("sigmoid", 0.5, "selected_test_accuracy"): 0.8739,
        ("relu", 0.5, "selected_test_accuracy"): 0.9635,
    },
    "keras-lenet5-1k": {
        ("none", None, "final_test_accuracy"): 0.8322,
        ("l2-last", 0.4, "final_test_accuracy"): 0.8782,
        ("l1-last", 0.1, "final_test_accuracy"): 0.8465,
    },
    "torch-mnist-1k": {
        ("ce", None, "test_accuracy@900"): 0.7715,
        ("mse", None, "test_accuracy@900"): 0.6995,
        ("l1", 0.001, "test_accuracy@900"): 0.7905,
        ("l2", 0.02, "test_accuracy@900"): 0.7810,
        ("dropout", 0.5, "test_accuracy@900"): 0.712,
    },
    "nnfs-spiral": {
        ("l2-first", 0.001, "final_train_accuracy"): 0.821,
        ("l2-first", 0.001, "final_test_accuracy"): 0.805,
    },
    "curve-fit-fixed": {},
}

METRICS = {   # the metrics shown per recipe, in order
    "cs231n-sigmoid-vs-relu": ("selected_test_accuracy", "final_test_accuracy"),
    "keras-lenet5-1k": ("final_test_accuracy", "selected_test_accuracy"),
    "torch-mnist-1k": ("test_accuracy@900", "selected_test_accuracy", "final_test_accuracy"),
    "nnfs-spiral": ("final_train_accuracy", "final_test_accuracy", "selected_test_accuracy"),
    "curve-fit-fixed": ("final_test_mse", "test_sse"),
}

LABELS = {"selected_test_accuracy": "test acc @ best val epoch",
          "final_test_accuracy": "test acc, last epoch",
          "final_train_accuracy": "train acc, last epoch",
          "test_accuracy@900": "test acc @ epoch 900",
          "final_test_mse": "test MSE, last epoch", "test_sse": "test SSE, last epoch"}
PERCENT = {"selected_test_accuracy", "final_test_accuracy", "final_train_accuracy", "test_accuracy@900"}


def _strength(text: str):
    return None if text in ("", None) else float(text)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def trial_values(study_dir: Path, metric: str) -> dict:
    """{(method, strength): {seed: value}} of the done trials of one study folder, from
    report/trials.csv; ``test_accuracy@E`` is the test accuracy stored for epoch E (read
    from the store)."""
    trials = [t for t in _rows(study_dir / "report" / "trials.csv") if t["status"] == "done"]
    out: dict = {}
    if "@" in metric:
        name, epoch = metric.split("@")
        by_key = {t["key"]: t for t in trials}
        conn = sqlite3.connect(f"file:{study_dir / 'study.db'}?mode=ro", uri=True)
        try:
            stored = conn.execute("SELECT trial_key, value FROM epoch_metric WHERE name = ? AND epoch = ?",
                                  (name, int(epoch))).fetchall()
        finally:
            conn.close()
        for key, value in stored:
            if key in by_key:
                t = by_key[key]
                out.setdefault((t["method"], _strength(t["strength"])), {})[int(t["seed"])] = float(value)
        return out
    for t in trials:
        if t.get(metric) not in (None, ""):
            out.setdefault((t["method"], _strength(t["strength"])), {})[int(t["seed"])] = float(t[metric])
    return out


def folders(runs: Path, recipe: str) -> list[Path]:
    """The study folders of a recipe with a report: ``RUNS/<recipe>`` and any parts
    ``RUNS/<recipe>+<part>`` (grid points of the same recipe run as a separate study to
    finish sooner: the same trial configs and keys, so the same results)."""
    found = [Path(runs) / recipe, *sorted(Path(runs).glob(glob.escape(recipe) + "+*"))]
    return [d for d in found if (d / "report" / "trials.csv").is_file()]


def _fmt(x: float, percent: bool) -> str:
    return "–" if not math.isfinite(x) else (f"{100 * x:.2f}" if percent else f"{x:.4g}")


def _cell(stats: dict, percent: bool) -> str:
    if stats["n"] == 0:
        return "–"
    if stats["n"] == 1:
        return f"{_fmt(stats['mean'], percent)} (n = 1)"
    return (f"{_fmt(stats['mean'], percent)} ± {_fmt(stats['std'], percent)} "
            f"[{_fmt(stats['ci_low'], percent)}, {_fmt(stats['ci_high'], percent)}] (n = {stats['n']})")


def table(recipe: str, dirs) -> str:
    """The markdown table of a recipe's study folders (a path or a list of them; or a line
    saying why there is none): one row per grid point and figure, the published figure
    beside proxnet's over the done trials of all the folders."""
    dirs = [Path(d) for d in ([dirs] if isinstance(dirs, (str, Path)) else dirs)]
    dirs = [d for d in dirs if (d / "report" / "trials.csv").is_file()]
    if not dirs:
        return f"*Not run: no study folder with a report for `{recipe}`.*\n"
    groups, planned, done = [], set(), set()
    for d in dirs:
        for t in _rows(d / "report" / "trials.csv"):
            g = (t["method"], _strength(t["strength"]))
            groups += [g] if g not in groups else []
            planned.add((*g, t["seed"]))
            if t["status"] == "done":
                done.add((*g, t["seed"]))
    values = {}
    for m in METRICS[recipe]:
        values[m] = {}
        for d in dirs:
            for g, by_seed in trial_values(d, m).items():
                values[m].setdefault(g, {}).update(by_seed)
    lines = ["| method | strength | figure | published | proxnet: mean ± std [95% CI] (seeds) |",
             "| --- | --- | --- | --- | --- |"]
    for method, strength in groups:
        for m in METRICS[recipe]:
            pub = PUBLISHED[recipe].get((method, strength, m))
            unit = " (%)" if m in PERCENT else ""
            lines.append(f"| {method} | {'–' if strength is None else f'{strength:g}'} | {LABELS[m]}{unit} | "
                         f"{'–' if pub is None else _fmt(pub, m in PERCENT)} | "
                         f"{_cell(mean_ci(values[m].get((method, strength), {}).values()), m in PERCENT)} |")
    missing = sorted(planned - done, key=lambda x: (groups.index(x[:2]), x[2]))
    note = "" if not missing else "\n*Not done when this table was written (not in the figures): " + \
        ", ".join(f"{m}{'' if s is None else f' {s:g}'} seed {seed}" for m, s, seed in missing) + ".*\n"
    return "\n".join(lines) + "\n" + note


def update(page: Path, runs: Path) -> str:
    text = page.read_text(encoding="utf-8")
    for recipe in PUBLISHED:
        pattern = re.compile(rf"(<!-- table:{re.escape(recipe)} -->\n)(.*?)(<!-- /table -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{page}: no <!-- table:{recipe} --> ... <!-- /table --> markers")
        new = table(recipe, folders(runs, recipe))
        text = pattern.sub(lambda m: m.group(1) + new + m.group(3), text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, help="folder with one study folder per faithful recipe")
    p.add_argument("--update", type=Path, help="rewrite the tables of this markdown page in place")
    args = p.parse_args(argv)
    if args.update:
        args.update.write_text(update(args.update, args.runs), encoding="utf-8")
    else:
        for recipe in PUBLISHED:
            sys.stdout.write(f"\n## {recipe}\n\n{table(recipe, folders(args.runs, recipe))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
