"""The vocabulary of dataset-option checks: strict types, finite numbers, sane ranges.

Each check is a :class:`Spec`: a description of what is allowed and a test. Specs combine
with ``|`` (either is allowed). :func:`check` raises :class:`OptionError` naming the dataset,
the option, what is allowed and what was given. The dataset registry
(:mod:`proxnet.data.datasets`) attaches one spec to every option of every builder.

>>> check("spiral", "n_per_class", 100, integer(1, 10))
Traceback (most recent call last):
...
proxnet.data.options.OptionError: dataset 'spiral': n_per_class: expected an integer in [1, 10], got 100 (int)
"""
from __future__ import annotations

import math
import os
import re

import numpy as np

MAX_POINTS = 10_000_000
"""Most points a generator may draw for one split (a config cannot ask for 10**9)."""

MAX_COUNT = 100_000_000
"""Largest sample count an option may name (subset sizes, validation and test counts)."""


class OptionError(ValueError):
    """A dataset option with a wrong name, type or value.

    Attributes: ``dataset`` (name), ``option`` (the option's name, or None when the options
    conflict as a whole) and the message, which says what is allowed.
    """

    def __init__(self, dataset: str, option: str | None, message: str):
        super().__init__(f"dataset {dataset!r}: " + (f"{option}: " if option else "")
                         + message)
        self.dataset, self.option = dataset, option


class Spec:
    """What an option may be: ``what`` (for messages) and ``test(value) -> bool``."""

    def __init__(self, what: str, test):
        self.what, self.test = what, test

    def __call__(self, value) -> bool:
        try:
            return bool(self.test(value))
        except (TypeError, ValueError, OverflowError):
            return False

    def __or__(self, other: Spec) -> Spec:
        return Spec(f"{self.what} or {other.what}", lambda v: self(v) or other(v))

    def __repr__(self):
        return f"Spec({self.what!r})"


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v) -> bool:
    return (_is_int(v) or isinstance(v, (float, np.floating))) and math.isfinite(v)


def integer(low: int, high: int) -> Spec:
    """An int (Python or NumPy, never bool) in ``[low, high]``."""
    return Spec(f"an integer in [{low}, {high}]", lambda v: _is_int(v) and low <= v <= high)


def number(low: float, high: float, *, low_open: bool = False,
           high_open: bool = False) -> Spec:
    """A finite int or float (never bool or str) in the interval."""
    lo, hi = "(" if low_open else "[", ")" if high_open else "]"

    def test(v):
        return _is_real(v) and (low < v if low_open else low <= v) and (
            v < high if high_open else v <= high)
    return Spec(f"a finite number in {lo}{low:g}, {high:g}{hi}", test)


def fraction(low: float = 0.0, *, low_open: bool = False) -> Spec:
    """A float (not an int: ints are counts) in ``[low, 1)`` (or ``(low, 1)``)."""
    lo = "(" if low_open else "["

    def test(v):
        return isinstance(v, (float, np.floating)) and math.isfinite(v) and (
            low < v if low_open else low <= v) and v < 1
    return Spec(f"a fraction (float) in {lo}{low:g}, 1)", test)


def _same(v, c) -> bool:
    if isinstance(c, bool):
        return isinstance(v, (bool, np.bool_)) and bool(v) == c
    return isinstance(v, type(c)) and not isinstance(v, (bool, np.bool_)) and v == c


def choice(*values) -> Spec:
    """One of ``values``, of the same type (``1`` is not ``True``, ``"1"`` is not ``1``)."""
    return Spec("one of " + ", ".join(repr(c) for c in values),
                lambda v: any(_same(v, c) for c in values))


BOOL = Spec("True or False", lambda v: isinstance(v, (bool, np.bool_)))
NONE = Spec("None", lambda v: v is None)


def text(max_len: int = 1000) -> Spec:
    """A non-empty ``str`` of at most ``max_len`` characters."""
    return Spec(f"a non-empty string (at most {max_len} characters)",
                lambda v: isinstance(v, str) and 0 < len(v) <= max_len)


def _is_path(v) -> bool:
    if not isinstance(v, (str, os.PathLike)):
        return False
    s = os.fspath(v)
    return isinstance(s, str) and 0 < len(s) <= 4096 and "\0" not in s


PATH = Spec("a path (str or os.PathLike)", _is_path)
SEED = Spec("a non-negative integer, None or a np.random.Generator",
            lambda v: v is None or isinstance(v, np.random.Generator) or (_is_int(v) and v >= 0))
DTYPE = Spec("'float32' or 'float64'", lambda v: (
    isinstance(v, (str, np.dtype, type)) and not isinstance(v, bool)
    and np.dtype(v).name in ("float32", "float64")))
DELIMITER = Spec("a one-character string other than a quote, newline or carriage return",
                 lambda v: isinstance(v, str) and len(v) == 1 and v not in "\"\r\n")
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
CHECKSUMS = Spec("a dict {file name: 32-hex-digit MD5} of at most 64 entries", lambda v: (
    isinstance(v, dict) and len(v) <= 64
    and all(isinstance(k, str) and 0 < len(k) <= 255 and isinstance(m, str)
            and _MD5.fullmatch(m) for k, m in v.items())))


def _mirrors(v) -> bool:
    from .download import check_mirrors  # the one definition of an acceptable mirror list
    check_mirrors(v)
    return True


MIRRORS = Spec("a list of 1 to 32 http:// or https:// base URLs", _mirrors)


def _shown(value) -> str:
    text_ = repr(value)
    if len(text_) > 80:
        text_ = text_[:77] + "..."
    return f"{text_} ({type(value).__name__})"


def check(dataset: str, option: str, value, spec: Spec) -> None:
    """Raise :class:`OptionError` unless ``spec`` allows ``value``."""
    if not spec(value):
        raise OptionError(dataset, option, f"expected {spec.what}, got {_shown(value)}")
