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


def blas() -> str:
    """'openblas 0.3.31 (Haswell kernels), pthreads' or similar, for NumPy's BLAS."""
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            kernel = info.get("architecture") or "?"
            return (f"{info.get('internal_api', '?')} {info.get('version', '?')} ({kernel} kernels), "
                    f"{info.get('threading_layer', '?')}")
    return "no BLAS found by threadpoolctl"


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
