"""How the report writes numbers, shared by the terminal table (:mod:`.text`) and the page
(:mod:`.html`): accuracies in percent with differences in percentage points, other metrics
on a common scale with bounded width, p-values, verdict phrases. Pure string functions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DASH = "–"
MAX_NUMBER = 9          # characters: a longer fixed-point number is written in e-notation


def finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt(x, spec: str = ".4f") -> str:
    """A number, or '–' when it is missing or not finite."""
    return format(x, spec) if finite(x) else DASH


@dataclass(frozen=True)
class Scale:
    """Display of one metric: values × ``factor`` with ``decimals`` decimals; ``unit`` of
    differences ('points' for accuracies, '' otherwise); ``suffix`` for headers."""
    factor: float = 1.0
    decimals: int = 4
    unit: str = ""
    suffix: str = ""
    significant: int | None = None      # instead of decimals: this many significant digits

    def num(self, x, *, sign: bool = False) -> str:
        if not finite(x):
            return DASH
        v = x * self.factor
        spec = f".{self.significant}g" if self.significant else f".{self.decimals}f"
        s = format(v, ("+" if sign else "") + spec)
        if len(s) > MAX_NUMBER:
            s = f"{v:+.2e}" if sign else f"{v:.2e}"
        return s.replace("-", "−")

    def diff(self, mean, low, high, *, interval: bool = True) -> str:
        """'+0.34 [+0.12, +0.56]' (or without the interval)."""
        if not finite(mean):
            return DASH
        if not interval or not (finite(low) and finite(high)):
            return self.num(mean, sign=True)
        return f"{self.num(mean, sign=True)} [{self.num(low, sign=True)}, {self.num(high, sign=True)}]"

    def mean_std(self, mean, std, n: int) -> str:
        """'84.35 ± 0.53', the mean alone for n = 1, '–' for n = 0."""
        if n == 0 or not finite(mean):
            return DASH
        if n == 1 or not finite(std):
            return self.num(mean)
        return f"{self.num(mean)} ± {self.num(std)}"


def scale_for(values, *, percent: bool) -> Scale:
    """For a column of fixed width (the terminal). Accuracies: percent, 2 decimals,
    differences in points. Other metrics: 3 decimals of the values brought into [1, 1000) by
    a power of ten (said in the header's suffix, e.g. ' (×1e-3)') when the largest |value|
    is outside it."""
    if percent:
        return Scale(100.0, 2, "points", " (%)")
    mags = [abs(v) for v in values if finite(v) and v != 0]
    if not mags:
        return Scale()
    k = math.floor(math.log10(max(mags)))
    if 0 <= k <= 2:
        return Scale(1.0, 3 - k)
    return Scale(10.0 ** -k, 3, "", f" (×1e{k})")


def page_scale(*, percent: bool) -> Scale:
    """For the page, where width is not counted: accuracies as in :func:`scale_for`, other
    metrics with 4 significant digits (no common factor)."""
    return Scale(100.0, 2, "points", " (%)") if percent else Scale(significant=4)


def p_value(p) -> str:
    """'0.004', '< 0.001' for smaller, '–' when undefined."""
    if not finite(p):
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p) -> str:
    """'p = 0.004', 'p < 0.001', or 'p undefined'."""
    if not finite(p):
        return "p undefined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def strength_text(name, strength) -> str:
    """'λ=0.001', 'rate=0.3', 'c=3', or '–'."""
    return DASH if strength is None else f"{name or 'strength'}={strength:g}"


def verdict_text(row: dict) -> str:
    """The verdict cell of a summary row (see :func:`analysis.summary_rows`)."""
    if row["is_baseline"]:
        return "baseline"
    if row["n"] == 0:
        return f"running ({row['running']})" if row["running"] else "no finished trial"
    if not row["tested"]:
        return f"no test (n={row['n_pairs']})"
    return row["verdict"] or DASH
