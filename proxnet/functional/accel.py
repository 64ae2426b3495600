"""Which kernels run: the NumPy ones (always there, the readable reference) or compiled ones.

The optional extra ``proxnet[fast]`` installs Numba. Where it is importable, a few kernels
that NumPy runs as several passes over memory (pooling, ReLU, the convolution's crop copies) run as one compiled loop
instead (:mod:`proxnet.functional._compiled`), and on two or more threads large dense
products can use a second core (:mod:`proxnet.functional.products`, with the bits of one);
every other kernel is the NumPy one either way. The choice, in order of precedence:

- :func:`set_backend` (``"numpy"``, ``"numba"`` or ``"auto"``) at run time, which sets
  :data:`BACKEND`;
- the environment variable ``PROXNET_KERNELS`` (the same three words) when proxnet is
  imported;
- ``"auto"``: compiled kernels when Numba imports, NumPy kernels otherwise.

Both paths compute the same functions: the tests run both and require them to agree
(float64 to 1e-12; float32 within rounding). Compiled kernels are cached on disk
(``cache=True``), so their compile time is paid once per installation, not once per
process; :func:`compile_all` compiles (or loads) them all and returns the seconds it took.
"""
from __future__ import annotations

import os
import time

ENV_VAR = "PROXNET_KERNELS"
CHOICES = ("auto", "numpy", "numba")

BACKEND = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
"""The requested kernels: ``"auto"``, ``"numpy"`` or ``"numba"`` (see the module docstring).
Read on every call, so a module-attribute override (``benchmarks/ab_step.py``) switches."""

_module = None          # the imported compiled-kernel module, once loaded
_import_error = None    # why Numba could not be used, once tried


def _load():
    """The compiled-kernel module, or None when Numba does not import."""
    global _module, _import_error
    if _module is None and _import_error is None:
        try:
            from . import _compiled  # deferred: imports Numba (optional, seconds)
        except ImportError as exc:          # Numba absent or broken: NumPy kernels
            _import_error = exc
        else:
            _module = _compiled
    return _module


def loaded():
    """The compiled-kernel module if it has been imported (whatever the current choice):
    a cache made by a compiled forward pass is always taken back by a compiled backward."""
    return _module


def compiled():
    """The compiled-kernel module when the current choice runs it, else None.

    Raises ValueError for an unknown :data:`BACKEND` and RuntimeError when ``"numba"`` is
    asked for but Numba does not import.
    """
    choice = BACKEND
    if choice == "numpy":
        return None
    if choice not in CHOICES:
        raise ValueError(f"{ENV_VAR} / set_backend: expected one of {', '.join(CHOICES)}, got {choice!r}")
    module = _load()
    if module is None and choice == "numba":
        raise RuntimeError(f"kernels: 'numba' was asked for but Numba does not import "
                           f"({_import_error}); install proxnet[fast] or choose 'numpy'")
    return module


def set_backend(name: str) -> str:
    """Choose the kernels (``"auto"``, ``"numpy"`` or ``"numba"``); returns the one now running
    (``"numba"`` or ``"numpy"``). Raises ValueError for another name and RuntimeError when
    ``"numba"`` is asked for and Numba does not import (the choice is then left unchanged)."""
    global BACKEND
    if not isinstance(name, str) or name.strip().lower() not in CHOICES:
        raise ValueError(f"backend: expected one of {', '.join(CHOICES)}, got {name!r}")
    previous, BACKEND = BACKEND, name.strip().lower()
    try:
        return backend()
    except RuntimeError:
        BACKEND = previous
        raise


def backend() -> str:
    """The kernels that run now: ``"numba"`` or ``"numpy"``."""
    return "numpy" if compiled() is None else "numba"


def describe() -> str:
    """One line for benchmark output: which kernels ran, with the Numba version."""
    module = compiled()
    if module is None:
        why = "" if BACKEND == "numpy" else f" (Numba not available: {_import_error})"
        return f"kernels: numpy{why}"
    import numba
    return (f"kernels: numba {numba.__version__} (compiled: pooling, ReLU on feature maps, "
            f"the convolution's crop copies and long-row im2col, large dense products' second core; "
            f"the rest NumPy)")


def compile_all() -> float:
    """Compile (or load from the disk cache) every compiled kernel for float32 and float64;
    returns the seconds it took (0.0 on the NumPy path)."""
    module = compiled()
    if module is None:
        return 0.0
    t0 = time.perf_counter()
    module.warm_up()
    return time.perf_counter() - t0
