"""Name -> object registries that make configs plain data.

An unknown name raises ``ValueError`` listing the valid names. :class:`Configured` is the
base of registered objects that are their config (schedules, regularizers): equal when
their configs are, hashable, with a readable repr.
"""
from __future__ import annotations

import inspect


class Registry(dict):
    """A dict of named entries whose lookup error lists the valid names.

    >>> r = Registry("activation"); r["relu"] = object
    >>> r.get_item("relu") is object
    True
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str, obj=None):
        """Register ``obj`` under ``name`` (usable as a decorator when ``obj`` is None)."""
        key = name.lower()
        if obj is None:
            def deco(o):
                self[key] = o
                return o
            return deco
        self[key] = obj
        return obj

    def get_item(self, name: str):
        """Return the entry called ``name`` (case-insensitive) or raise ``ValueError``."""
        if not isinstance(name, str):
            raise ValueError(f"{self.kind}: expected a name (str), got {type(name).__name__}")
        key = name.lower()
        if key not in self:
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(sorted(self))}")
        return self[key]

    def build(self, spec: dict):
        """The entry named by ``spec["kind"]`` called with the rest of ``spec`` as keyword
        arguments; a missing ``kind``, an unknown name or an argument the entry does not take
        raises ``ValueError`` naming it and the valid ones.

        >>> r = Registry("shape"); r["box"] = lambda width=1, height=1: (width, height)
        >>> r.build({"kind": "box", "width": 3})
        (3, 1)
        >>> r.build({"kind": "box", "depth": 2})
        Traceback (most recent call last):
        ...
        ValueError: shape 'box': unknown argument(s) 'depth'; valid: width, height
        """
        spec = dict(spec)
        kind = spec.pop("kind", None)
        if kind is None:
            raise ValueError(f"{self.kind}: dict needs a 'kind' key, got {spec!r}")
        entry = self.get_item(kind)
        valid = list(inspect.signature(entry).parameters)
        unknown = sorted(set(spec) - set(valid))
        if unknown:
            raise ValueError(f"{self.kind} {kind!r}: unknown argument(s) {', '.join(map(repr, unknown))}; "
                             f"valid: {', '.join(valid) or '(none)'}")
        try:
            return entry(**spec)
        except TypeError as exc:
            raise ValueError(f"{self.kind} {kind!r}: bad arguments {spec!r} ({exc})") from None

    def __repr__(self):
        return f"Registry({self.kind!r}, {sorted(self)})"


class Configured:
    """An object described by plain data: ``name`` (its registry key) and ``get_config()``
    (its constructor arguments). ``to_dict()`` is ``{"kind": name, **config}``, the form the
    ``get_*`` builders take; equality, hash and repr follow the config."""

    name = "configured"

    def get_config(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        return {"kind": self.name, **self.get_config()}

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(sorted(self.to_dict().items())))

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({cfg})"
