"""What a benchmark figure was measured on: one block of lines every benchmark prints first.

Speed differs between CPU families (AMD and Intel AVX-512 run different BLAS kernels), so
every figure carries the date, the CPU model, the BLAS library and the kernel it chose
(from threadpoolctl), the versions, and which proxnet kernels ran (NumPy or compiled).
"""
from __future__ import annotations

import datetime
import os
import platform
import sys

import numpy as np


def cpu_model() -> str:
    """The CPU model name (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _owner(path: str) -> str | None:
    """The package ('numpy', 'scipy', 'torch') a shared library ships with, if loaded."""
    real = os.path.realpath(path)
    for name in ("numpy", "scipy", "torch"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            if real.startswith(os.path.dirname(os.path.realpath(module.__file__))):
                return name      # site-packages/numpy/... or site-packages/numpy.libs/...
    return None


def blas() -> str:
    """NumPy's BLAS first, as 'openblas 0.3.31 (Haswell kernels), pthreads (NumPy's)', then
    any other BLAS loaded in the process (SciPy ships its own), named by its package."""
    from threadpoolctl import threadpool_info
    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not libs:
        return "no BLAS found by threadpoolctl"
    owners = [_owner(i.get("filepath", "")) for i in libs]
    order = sorted(range(len(libs)), key=lambda j: owners[j] != "numpy")
    names = {"numpy": "NumPy's", "scipy": "SciPy's", "torch": "PyTorch's"}
    parts = []
    for j in order:
        info = libs[j]
        whose = names[owners[j]] if owners[j] else info.get("filepath", "?")
        parts.append(f"{info.get('internal_api', '?')} {info.get('version', '?')} "
                     f"({info.get('architecture') or '?'} kernels), "
                     f"{info.get('threading_layer', '?')} ({whose})")
    return parts[0] + "".join(f"; also {p}" for p in parts[1:])


def describe(torch=None) -> str:
    """The lines a benchmark prints before its figures. Compiles (or loads from the disk
    cache) proxnet's compiled kernels first, if they run, and says how long that took: the
    first-use cost, outside every timed run."""
    from proxnet.functional import accel
    seconds = accel.compile_all()
    kernels = accel.describe() + (f", compiled or loaded in {seconds:.1f} s" if seconds else "")
    versions = f"python {platform.python_version()}  numpy {np.__version__}"
    if torch is not None:
        versions += f"  torch {torch.__version__}"
    return "\n".join([
        f"date {datetime.datetime.now().astimezone().isoformat(timespec='minutes')}",
        f"cpu {cpu_model()} ({os.cpu_count()} logical cores, {sys.platform})",
        f"blas {blas()}",
        versions,
        f"proxnet {kernels}",
    ])
