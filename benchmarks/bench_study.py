"""Whole-study throughput: what a user waits for. One grid of the mnist-1k-overfit kind
(784-128-128-128-10 ReLU MLP, first 1,000 MNIST training images, 2,000 validation images from
the end of the training file, the first 2,000 test images; SGD lr 0.01, batch 128; methods
none and L2 1e-2 × seeds) run three ways, in one run:

1. ``proxnet study`` with its defaults (the command, in a subprocess: process start, data
   loading, workers, per-epoch store writes, checkpoints, the report);
2. the same trials as a plain PyTorch script run the way the published course notebook
   does: one process, one trial after another, PyTorch's default threads;
3. as a careful PyTorch user would: one process per core, one thread each, the trials
   shared out.

Each way runs as a fresh process, timed from its start to its exit (interpreter start,
imports and data loading included for all three). With ``--repeats R`` the three ways take
turns R times (1, 2, 3, 1, 2, 3, ...), so that a shared machine's drift over minutes hits
all alike; printed are every wall time, the medians, and the ratios of the medians.

Every way trains every trial for the same epochs and measures train, validation and test
accuracy and loss after each epoch, as the study records them. Printed: the machine, the
three wall times and the ratios (below 1: proxnet's study is faster).

    python benchmarks/bench_study.py                 # 6 trials x 100 epochs
    python benchmarks/bench_study.py --repeats 3      # the three ways taking turns, 3 times
    python benchmarks/bench_study.py --seeds 4 --epochs 200
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lenet import data_dir_of  # noqa: E402
from machine import describe  # noqa: E402

L2 = 1e-2
OPTIONS = {"subset": "first", "n_train": 1000, "n_test": 2000, "val_size": 2000}


def study_toml(seeds: int, epochs: int) -> str:
    return f"""name = "bench-study"
seeds = {seeds}

[dataset]
name = "mnist"
options = {{ subset = "first", n_train = 1000, n_test = 2000, val_size = 2000 }}

[model]
architecture = "mlp"
hidden = [128, 128, 128]
activation = "relu"
loss = "ce"

[training]
optimizer = "sgd"
lr = 0.01
epochs = {epochs}
batch_size = 128

[[methods]]
name = "none"

[[methods]]
name = "l2"
regularizer = "l2"
strengths = [{L2}]
"""


def timed(cmd, what: str) -> float:
    """Wall time of ``cmd`` in a fresh process, from its start to its exit."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall


def run_proxnet(seeds, epochs, jobs):
    """Wall time of ``proxnet study`` on the grid, in a fresh process (as a user runs it)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(study_toml(seeds, epochs))
        cmd = [sys.executable, "-m", "proxnet.cli", "study", str(config), "--out", str(Path(tmp) / "run")]
        return timed(cmd + (["--jobs", str(jobs)] if jobs else []), "proxnet study")


def _torch_trial(args):
    """One trial as a PyTorch course notebook writes it; returns the final test accuracy."""
    method, seed, epochs, threads = args
    import torch
    from proxnet.data import load_dataset
    if threads:
        torch.set_num_threads(threads)
    d = load_dataset("mnist", **OPTIONS)
    splits = {k: (torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)))
              for k, (X, y) in {"train": d.train, "val": d.val, "test": d.test}.items()}
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128),
                              torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    Xtr, ytr = splits["train"]
    gen = torch.Generator().manual_seed(seed)
    acc = None
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(Xtr.shape[0], generator=gen).split(128):
            loss = torch.nn.functional.cross_entropy(net(Xtr[idx]), ytr[idx])
            if method == "l2":
                loss = loss + 0.5 * L2 * sum((m.weight ** 2).sum() for m in net if isinstance(m, torch.nn.Linear))
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():          # the per-epoch measurements a study records
            for name, (X, y) in splits.items():
                out = net(X)
                torch.nn.functional.cross_entropy(out, y)
                acc = (out.argmax(1) == y).float().mean().item()
    return acc


def torch_script(seeds, epochs, processes, threads):
    """The PyTorch way's whole run, as the script a user starts (``--torch-way``)."""
    trials = [(m, s, epochs, threads) for m in ("none", "l2") for s in range(seeds)]
    if processes <= 1:
        for trial in trials:
            _torch_trial(trial)
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            pool.map(_torch_trial, trials, chunksize=1)


def run_torch(seeds, epochs, processes, threads):
    """Wall time of the PyTorch way in a fresh process (interpreter start and ``import
    torch`` included, as for ``proxnet study``)."""
    return timed([sys.executable, __file__, "--torch-way", str(processes), str(threads or 0),
                  "--seeds", str(seeds), "--epochs", str(epochs)], "torch way")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds per method (2 methods; default 3 = 6 trials)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=None, help="proxnet study --jobs (default: its own)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs per way, the ways taking turns; medians reported (default 1)")
    ap.add_argument("--data-dir", help="folder holding mnist/ (default $PROXNET_DATA or ../shared/data)")
    ap.add_argument("--torch-way", nargs=2, type=int, metavar=("PROCESSES", "THREADS"),
                    help=argparse.SUPPRESS)     # internal: run one PyTorch way and exit
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats: expected at least 1, got {args.repeats}")
    os.environ["PROXNET_DATA"] = data_dir_of(args)        # seen by the study and the torch processes
    if args.torch_way:
        return torch_script(args.seeds, args.epochs, args.torch_way[0], args.torch_way[1] or None)
    import torch
    print(describe(torch))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    n = 2 * args.seeds
    print(f"grid: 2 methods x {args.seeds} seeds = {n} trials x {args.epochs} epochs, "
          f"per-epoch train/val/test evaluation; {cores} cores")
    ways = {"proxnet study (defaults)": lambda: run_proxnet(args.seeds, args.epochs, args.jobs),
            "torch, one process, default threads": lambda: run_torch(args.seeds, args.epochs, 1, None),
            f"torch, {cores} processes x 1 thread": lambda: run_torch(args.seeds, args.epochs, cores, 1)}
    walls: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.repeats):           # the ways take turns: drift hits all alike
        for name, way in ways.items():
            walls[name].append(way())
    medians = {name: statistics.median(w) for name, w in walls.items()}
    base = medians["proxnet study (defaults)"]
    each = "each run's wall s, in turn" if args.repeats > 1 else ""
    print(f"{'way':<40} {'wall s':>9} {'proxnet / this':>15}  {each}")
    for name, wall in medians.items():
        runs = "  " + ", ".join(f"{w:.1f}" for w in walls[name]) if args.repeats > 1 else ""
        print(f"{name:<40} {wall:>9.1f} {base / wall:>15.2f}{runs}")
    if args.repeats > 1:
        print(f"wall s: the median of {args.repeats} runs per way")
    print("proxnet / this below 1: proxnet's study finished first")


if __name__ == "__main__":
    main()
