"""Optional dependencies: which extra provides what, and a clear error when one is missing.

``pip install proxnet`` installs the NumPy core; ``proxnet[lab]`` adds what the studies, the
reports and the ``proxnet`` command need, ``proxnet[sklearn]`` the scikit-learn estimators,
``proxnet[dask]`` the Dask executor, ``proxnet[all]`` everything.
"""
from __future__ import annotations

import importlib.util

LAB = ("click", "tqdm", "matplotlib", "pydantic", "joblib", "scipy")
SKLEARN = ("sklearn",)


def missing(modules) -> list[str]:
    """The names among ``modules`` that cannot be imported (without importing them)."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require(modules, what: str, extra: str) -> None:
    """Raise ImportError naming the extra to install when a module of ``modules`` is absent."""
    absent = missing(modules)
    if absent:
        raise ImportError(f"{what} needs the '{extra}' extra (missing: {', '.join(absent)}); "
                          f"install it with: pip install 'proxnet[{extra}]'")
