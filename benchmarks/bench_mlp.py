"""MLP training speed: proxnet vs PyTorch CPU, measured in one run, printed as ratios.

Both sides train the same network (same initial weights, copied from proxnet to torch)
on the same MNIST images in the same order (one permutation per epoch shared by both),
with the same batch size, plain SGD (lr 0.01), float32 and the same number of threads
(numpy/BLAS through threadpoolctl, torch.set_num_threads). Epochs of the two libraries
alternate so that machine noise hits both alike; the median epoch time is reported.

proxnet is timed through ``Sequential.fit`` as a user calls it (per-step gradient-norm
history and per-epoch sparsity included), with ``eval_train=False`` so that neither side
makes an extra pass over the training set. torch runs the usual
``zero_grad / forward / cross_entropy / backward / step`` loop.

Usage::

    python benchmarks/bench_mlp.py                       # the three configurations
    python benchmarks/bench_mlp.py --epochs 5 --threads 2 --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from proxnet import Sequential
from proxnet.data import load_mnist
from proxnet.layers import Dense, ReLU

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

CONFIGS = [
    {"name": "784-64-10, batch 100, 50k", "sizes": [784, 64, 10], "batch": 100, "n": 50_000, "epochs": 5},
    {"name": "784-128-128-128-10, batch 128, 1k", "sizes": [784, 128, 128, 128, 10], "batch": 128,
     "n": 1_000, "epochs": 60},
    {"name": "784-128-128-128-10, batch 128, 50k", "sizes": [784, 128, 128, 128, 10], "batch": 128,
     "n": 50_000, "epochs": 5},
]


def build_proxnet(sizes, seed):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(layers, optimizer={"kind": "sgd", "lr": 0.01}, seed=seed)


def build_torch(torch, model):
    mods = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            lin = torch.nn.Linear(layer.in_features, layer.out_features)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(layer.params["W"].T.copy()))
                lin.bias.copy_(torch.from_numpy(layer.params["b"].copy()))
            mods.append(lin)
        else:
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods)


def run_config(cfg, X_all, y_all, threads, epochs, torch):
    X, y = X_all[:cfg["n"]], y_all[:cfg["n"]]
    model = build_proxnet(cfg["sizes"], seed=0)
    tmodel = build_torch(torch, model)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    B = cfg["batch"]
    order_rng = np.random.default_rng(0)
    p_times, t_times = [], []
    for epoch in range(epochs + 1):  # epoch 0 is a warm-up, not timed
        perm = order_rng.permutation(len(X))
        Xp, yp = X[perm], y[perm]
        t0 = time.perf_counter()
        model.fit(Xp, yp, epochs=1, batch_size=B, shuffle=False, verbose=False, eval_train=False)
        t1 = time.perf_counter()
        permt = torch.from_numpy(perm)
        Xtp, ytp = Xt[permt], yt[permt]
        t2 = time.perf_counter()
        for s in range(0, len(X), B):
            topt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(tmodel(Xtp[s:s + B]), ytp[s:s + B])
            loss.backward()
            topt.step()
        t3 = time.perf_counter()
        if epoch:
            p_times.append(t1 - t0)
            t_times.append(t3 - t2)
    p, t = statistics.median(p_times), statistics.median(t_times)
    return {"config": cfg["name"], "proxnet_s": p, "torch_s": t, "ratio": p / t}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--epochs", type=int, default=None, help="timed epochs per config (default: per config)")
    ap.add_argument("--data-dir", default=None, help="folder holding mnist/ (default $PROXNET_DATA or ../shared/data)")
    ap.add_argument("--only", type=int, default=None, help="run only config number N (0-based)")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or os.environ.get("PROXNET_DATA") or str(
        Path(__file__).resolve().parents[1].parent / "shared" / "data")
    X, y = load_mnist(data_dir, split="train")
    X, y = np.ascontiguousarray(X, dtype=np.float32), np.asarray(y)
    print(describe(torch))
    print(f"threads={args.threads}")
    print(f"{'configuration':<38} {'proxnet s/epoch':>16} {'torch s/epoch':>14} {'ratio':>7}")
    results = []
    with threadpool_limits(limits=args.threads):
        for i, cfg in enumerate(CONFIGS):
            if args.only is not None and i != args.only:
                continue
            r = run_config(cfg, X, y, args.threads, args.epochs or cfg["epochs"], torch)
            results.append(r)
            print(f"{r['config']:<38} {r['proxnet_s']:>16.4f} {r['torch_s']:>14.4f} {r['ratio']:>7.2f}")
    print("ratio = proxnet epoch time / torch epoch time (below 1 means proxnet is faster)")
    return results


if __name__ == "__main__":
    main()
