"""Name -> object registries that make configs plain data.

An unknown name raises ``ValueError`` listing the valid names.
"""
from __future__ import annotations


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

    def __repr__(self):
        return f"Registry({self.kind!r}, {sorted(self)})"
