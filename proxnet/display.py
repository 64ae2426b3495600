"""Rich displays: the HTML (Jupyter's ``_repr_html_``) and text tables of models, training
histories and datasets, with the standard library only (``html.escape``); a history's small
inline plot is an SVG sparkline, so displays need no plotting package.
"""
from __future__ import annotations

import math
from html import escape

__all__ = ["table_html", "table_text", "sparkline_svg", "fmt"]

_STYLE = ("border-collapse:collapse;font-size:12px;font-family:ui-monospace,SFMono-Regular,"
          "Menlo,Consolas,monospace")
_CELL = "border:1px solid #ddd;padding:2px 6px;text-align:left"


def fmt(value) -> str:
    """A number for a table: ints with thousands separators, floats with 4 significant
    digits, NaN/None as '–'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_html(headers, rows, *, caption: str | None = None, title: str | None = None) -> str:
    """An HTML table (escaped cells, inline style: it renders the same in any notebook)."""
    head = "".join(f"<th style='{_CELL};background:#f4f4f6'>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='{_CELL}'>{escape(str(c))}</td>" for c in row)
                   + "</tr>" for row in rows)
    cap = f"<caption style='caption-side:bottom;text-align:left;color:#555'>{escape(caption)}</caption>" \
        if caption else ""
    top = f"<div style='font-weight:600;margin:4px 0'>{escape(title)}</div>" if title else ""
    return f"<div>{top}<table style='{_STYLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{cap}</table></div>"


def table_text(headers, rows) -> str:
    """A plain-text table with columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def sparkline_svg(series: dict, *, width: int = 220, height: int = 48) -> str:
    """A small SVG plot of one or more series of numbers (``{label: values}``), each scaled
    to the same axes, with a legend; non-finite values are left out."""
    colors = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    finite = [v for values in series.values() for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    n = max((len(v) for v in series.values()), default=0)
    if not finite or n < 2:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    lines, legend = [], []
    for k, (label, values) in enumerate(series.items()):
        pts = [f"{4 + i * (width - 8) / (n - 1):.1f},{height - 4 - (v - lo) / span * (height - 8):.1f}"
               for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]
        color = colors[k % len(colors)]
        lines.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.5' points='{' '.join(pts)}'/>")
        legend.append(f"<span style='color:{color}'>&#9644; {escape(label)}</span>")
    return (f"<div style='font-size:11px'><svg width='{width}' height='{height}' "
            f"style='border:1px solid #eee'>{''.join(lines)}</svg><br>{' '.join(legend)} "
            f"<span style='color:#777'>({fmt(lo)} – {fmt(hi)})</span></div>")
