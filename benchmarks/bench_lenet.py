"""LeNet-5 training speed and memory: proxnet vs PyTorch CPU, measured in one run.

Both sides train the same network (proxnet's ``lenet5``; torch's copy gets the same initial
weights) on the same MNIST images (NCHW, float32, pixels in [0, 1]) in the same order (one
permutation per epoch shared by both), with the same batch size (64), the same optimizer
(SGD lr 0.01 or Adam lr 1e-3) and the same number of threads: numpy/BLAS through
threadpoolctl, ``torch.set_num_threads``. Each epoch is cut into ``--slices`` runs of whole
batches (10 by default, the same batches as one whole epoch), and the two libraries
alternate run by run, the one going first alternating too, so that machine noise hits both
alike: on a shared virtual machine throughput drifts over seconds, which alternating whole
epochs (about 10 s each) did not even out. An untimed warm-up epoch comes first, and the
median epoch time (the sum of its runs) is reported as samples per second. ``ratio`` = proxnet samples/s ÷ torch samples/s,
so above 1 means proxnet trains faster. By default this runs on 1 thread and on all cores.
On several threads proxnet cuts each batch into shards run on its threads (two shards of 32
for a batch of 64; see ``Sequential.fit``), while torch spreads every operation.

proxnet is timed through ``Sequential.fit`` as a user calls it (per-step gradient-norm
history and per-epoch sparsity included), with ``eval_train=False`` so that neither side
makes an extra pass over the training set. torch runs the usual
``zero_grad / forward / cross_entropy / backward / step`` loop on ``torch.nn`` modules.

Peak memory is measured for each library in a *separate* subprocess that imports only
that library, loads the same images, builds the model, then resets the kernel's peak-RSS
mark (``/proc/self/clear_refs``; freed heap memory is first returned to the OS with glibc's
``malloc_trim``) and trains ``--memory-steps`` batches. It reports

- ``peak RSS``: the process's peak resident memory while training (interpreter, library,
  data and model included), and
- ``training``: that peak minus the resident memory just before training, i.e. what the
  training steps themselves added (activations, caches, scratch buffers, gradients,
  optimizer state).

With proxnet's compiled kernels, Numba and the kernels are loaded before that baseline (as
torch's libraries are), and the resident memory they added is printed too.

RSS counts everything a process touches, NumPy and torch alike (tracemalloc would only see
NumPy's allocations). Where ``clear_refs`` is unavailable (not Linux) the lifetime peak is
reported instead and marked so.

Usage::

    python benchmarks/bench_lenet.py                        # compact LeNet-5, SGD, 1 thread and all cores
    python benchmarks/bench_lenet.py --variant classic --optimizer adam --threads 1,4
    python benchmarks/bench_lenet.py --quick                # a few seconds: checks it runs
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

OPTIMIZERS = {"sgd": {"kind": "sgd", "lr": 0.01}, "adam": {"kind": "adam", "lr": 1e-3}}


# -- the two models ------------------------------------------------------------------------------
def build_proxnet(args):
    from proxnet.architectures import lenet5
    return lenet5(variant=args.variant, pooling=args.pooling, activation="relu",
                  optimizer=dict(OPTIMIZERS[args.optimizer]), seed=0)


def build_torch(torch, model):
    """torch.nn.Sequential with the layers and current weights of a proxnet LeNet-5."""
    from proxnet.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, ReLU
    mods = []
    for layer in model.layers:
        if isinstance(layer, Conv2D):
            m = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                stride=layer.stride, padding=layer.padding, bias=layer.bias)
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"].copy()))
                m.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
        elif isinstance(layer, Dense):
            m = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                m.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
        elif isinstance(layer, MaxPool2D):
            m = torch.nn.MaxPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, AvgPool2D):
            m = torch.nn.AvgPool2d(layer.kernel_size, layer.stride)
        elif isinstance(layer, Flatten):
            m = torch.nn.Flatten()
        elif isinstance(layer, ReLU):
            m = torch.nn.ReLU()
        else:
            raise TypeError(f"no torch counterpart for {layer!r}")
        mods.append(m)
    return torch.nn.Sequential(*mods)


def torch_optimizer(torch, tmodel, name):
    spec = OPTIMIZERS[name]
    if name == "sgd":
        return torch.optim.SGD(tmodel.parameters(), lr=spec["lr"])
    return torch.optim.Adam(tmodel.parameters(), lr=spec["lr"])


def torch_epoch(torch, tmodel, topt, Xt, yt, batch):
    total = 0.0
    for s in range(0, len(Xt), batch):
        topt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(tmodel(Xt[s:s + batch]), yt[s:s + batch])
        loss.backward()
        topt.step()
        total += float(loss.detach()) * len(Xt[s:s + batch])
    return total / len(Xt)


# -- data ------------------------------------------------------------------------------------------
def load_images(data_dir, n):
    from proxnet.data import load_dataset
    data = load_dataset("mnist", data_dir=data_dir, flatten=False, subset="first", n_train=n, n_test=1)
    return np.ascontiguousarray(data.X_train, dtype=np.float32), np.asarray(data.y_train)


def data_dir_of(args):
    return args.data_dir or os.environ.get("PROXNET_DATA") or str(
        Path(__file__).resolve().parents[1].parent / "shared" / "data")


# -- speed -----------------------------------------------------------------------------------------
def slice_bounds(n, batch, slices):
    """[(start, stop)] cutting n samples into ``slices`` runs of whole batches (nearly equal)."""
    steps = -(-n // batch)
    slices = max(1, min(slices, steps))
    cuts = [round(k * steps / slices) * batch for k in range(slices + 1)]
    return [(a, min(b, n)) for a, b in zip(cuts, cuts[1:])]


def run_speed(args, X, y, threads, torch):
    torch.set_num_threads(threads)
    model = build_proxnet(args)
    tmodel = build_torch(torch, model)
    topt = torch_optimizer(torch, tmodel, args.optimizer)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    B = args.batch
    order_rng = np.random.default_rng(0)
    bounds = slice_bounds(len(X), B, args.slices)
    p_times, t_times, p_loss, t_loss = [], [], None, None
    with threadpool_limits(limits=threads):
        for epoch in range(args.epochs + 1):  # epoch 0 is a warm-up, not timed
            perm = order_rng.permutation(len(X))
            Xp, yp = X[perm], y[perm]
            permt = torch.from_numpy(perm)
            Xtp, ytp = Xt[permt], yt[permt]
            p_time = t_time = p_sum = t_sum = 0.0

            def run_proxnet(a, b):
                t0 = time.perf_counter()
                hist = model.fit(Xp[a:b], yp[a:b], epochs=1, batch_size=B, shuffle=False,
                                 verbose=False, eval_train=False)
                return time.perf_counter() - t0, hist["data_loss"][-1] * (b - a)

            def run_torch(a, b):
                t0 = time.perf_counter()
                loss = torch_epoch(torch, tmodel, topt, Xtp[a:b], ytp[a:b], B)
                return time.perf_counter() - t0, loss * (b - a)

            for k, (a, b) in enumerate(bounds):   # the same batches as one whole epoch
                if k % 2 == 0:
                    (dp, lp), (dt, lt) = run_proxnet(a, b), run_torch(a, b)
                else:
                    (dt, lt), (dp, lp) = run_torch(a, b), run_proxnet(a, b)
                p_time, t_time, p_sum, t_sum = p_time + dp, t_time + dt, p_sum + lp, t_sum + lt
            p_loss, t_loss = p_sum / len(X), t_sum / len(X)
            if epoch:
                p_times.append(p_time)
                t_times.append(t_time)
    p, t = statistics.median(p_times), statistics.median(t_times)
    return {"threads": threads, "proxnet_sps": len(X) / p, "torch_sps": len(X) / t,
            "ratio": t / p, "proxnet_loss": p_loss, "torch_loss": t_loss}


# -- memory (one subprocess per library) ---------------------------------------------------------------
def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _release_free_heap():
    """Give freed heap memory back to the OS (glibc ``malloc_trim``), so that the resident
    memory measured before training counts live data only, not pages freed while loading."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def load_compiled_kernels():
    """With compiled kernels (Numba), import Numba and load the kernels before the baseline,
    as torch's libraries are loaded before its baseline; returns the MiB that added to the
    resident memory (None on the NumPy path or without /proc)."""
    from proxnet.functional import accel
    try:
        before = _status_kib("VmRSS")
    except (OSError, KeyError):
        before = None
    if accel.compiled() is None:          # imports Numba when it is to run
        return None
    accel.compile_all()
    return None if before is None else (_status_kib("VmRSS") - before) / 1024


def memory_child(args):
    """Runs in a subprocess: train --memory-steps batches with one library, print JSON."""
    threads = int(args.threads.split(",")[0])
    n = args.memory_steps * args.batch
    X, y = load_images(data_dir_of(args), n)
    with threadpool_limits(limits=threads):
        kernels_mib = None
        if args.memory_child == "proxnet":
            kernels_mib = load_compiled_kernels()
            model = build_proxnet(args)
            step = lambda: model.fit(X, y, epochs=1, batch_size=args.batch, shuffle=False,  # noqa: E731
                                     verbose=False, eval_train=False)
        else:
            import torch
            torch.set_num_threads(threads)
            tmodel = build_torch(torch, build_proxnet(args))
            topt = torch_optimizer(torch, tmodel, args.optimizer)
            Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
            step = lambda: torch_epoch(torch, tmodel, topt, Xt, yt, args.batch)  # noqa: E731
        try:
            _release_free_heap()
            before = _status_kib("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")                     # reset the peak-RSS mark (VmHWM)
            step()
            peak, exact = _status_kib("VmHWM"), True
        except (OSError, KeyError):              # not Linux: lifetime peak from getrusage
            import resource
            before = 0
            step()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            peak //= 1024 if sys.platform == "darwin" else 1
            exact = False
    print(json.dumps({"peak_mib": peak / 1024, "training_mib": (peak - before) / 1024 if exact else None,
                      "kernels_mib": kernels_mib}))


def run_memory(args, library):
    cmd = [sys.executable, __file__, "--memory-child", library, "--variant", args.variant,
           "--pooling", args.pooling, "--optimizer", args.optimizer, "--batch", str(args.batch),
           "--threads", args.threads.split(",")[0], "--memory-steps", str(args.memory_steps),
           "--data-dir", data_dir_of(args)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", choices=("compact", "classic"), default="compact")
    ap.add_argument("--pooling", choices=("max", "avg"), default="max")
    ap.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="sgd")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=60_000, help="training images per epoch (default: all 60,000)")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (after one warm-up epoch)")
    ap.add_argument("--slices", type=int, default=10,
                    help="runs of whole batches per epoch; the libraries alternate run by run (default 10)")
    ap.add_argument("--threads", default=",".join(dict.fromkeys(["1", str(os.cpu_count() or 1)])),
                    help="thread count(s), comma-separated (default: 1 and all cores)")
    ap.add_argument("--memory-steps", type=int, default=100, help="batches trained in each memory subprocess")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    ap.add_argument("--data-dir", default=None, help="folder holding mnist/ (default $PROXNET_DATA or ../shared/data)")
    ap.add_argument("--quick", action="store_true",
                    help="a few seconds: 1,024 images, 1 timed epoch, 1 thread, 10 memory steps")
    ap.add_argument("--memory-child", choices=("proxnet", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.epochs, args.threads, args.memory_steps = 1024, 1, "1", 10
    if args.memory_child:
        return memory_child(args)

    import torch
    thread_list = [int(t) for t in args.threads.split(",")]
    X, y = load_images(data_dir_of(args), args.n)
    print(f"LeNet-5 {args.variant}, {args.pooling}-pool, ReLU, {args.optimizer} "
          f"(lr {OPTIMIZERS[args.optimizer]['lr']}), batch {args.batch}, float32, {len(X)} MNIST "
          f"images/epoch, {args.epochs} timed epoch(s)")
    print(describe(torch))
    print(f"{'threads':>7} {'proxnet samples/s':>18} {'torch samples/s':>16} {'ratio':>6}   "
          f"last-epoch loss proxnet / torch")
    results = []
    for threads in thread_list:
        r = run_speed(args, X, y, threads, torch)
        results.append(r)
        print(f"{threads:>7} {r['proxnet_sps']:>18.0f} {r['torch_sps']:>16.0f} {r['ratio']:>6.2f}   "
              f"{r['proxnet_loss']:.4f} / {r['torch_loss']:.4f}")
    print("ratio = proxnet samples/s ÷ torch samples/s (above 1: proxnet is faster)")
    if not args.no_memory:
        print(f"\npeak memory while training {args.memory_steps} batches "
              f"({thread_list[0]} thread(s), one subprocess per library):")
        for library in ("proxnet", "torch"):
            m = run_memory(args, library)
            extra = "lifetime peak" if m["training_mib"] is None else f"training {m['training_mib']:.1f} MiB"
            if m.get("kernels_mib") is not None:
                extra += f"; Numba and the compiled kernels, loaded first: {m['kernels_mib']:.1f} MiB"
            print(f"  {library:<8} peak RSS {m['peak_mib']:7.1f} MiB   ({extra})")
            results.append({"library": library, **m})
    return results


if __name__ == "__main__":
    main()
