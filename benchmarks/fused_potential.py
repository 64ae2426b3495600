"""What the fused kernels of ``proxnet.functional.fused`` would gain in LeNet-5 training.

The library's models do not use them yet (wiring them into a model is the training
package's job). This script measures their potential: it trains, per-step interleaved as
``ab_step.py`` does (same batch, rotating order), LeNet-5 as ``lenet5()`` builds it and the
same network (same initial weights) with the pattern ``ReLU → MaxPool2D`` replaced by one
layer running :func:`relu_max_pool2d_forward` / ``_backward`` ("relu-pool"), and with
``Conv2D → ReLU`` replaced by one running :func:`conv2d_relu_forward` / ``_backward``
("conv-relu"). Before timing it checks that the first step's gradients are identical.

    python benchmarks/fused_potential.py --threads 1,2
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from proxnet import Sequential
from proxnet.architectures import lenet5
from proxnet.functional.fused import (conv2d_relu_backward, conv2d_relu_forward,
                                      relu_max_pool2d_backward, relu_max_pool2d_forward)
from proxnet.layers import Conv2D, MaxPool2D, ReLU

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lenet import data_dir_of, load_images  # noqa: E402
from machine import describe  # noqa: E402


class ReluMaxPool(MaxPool2D):
    """MaxPool2D(ReLU(x)) in one layer (this script's stand-in for the model's wiring)."""
    _fwd = staticmethod(relu_max_pool2d_forward)
    _bwd = staticmethod(relu_max_pool2d_backward)


class ConvReLU(Conv2D):
    """ReLU(Conv2D(x)) in one layer (this script's stand-in for the model's wiring)."""

    def forward(self, x, *, training=False):
        out, self._cache = conv2d_relu_forward(x, self.params["W"], self.params.get("b"), self.stride,
                                               self.padding, workspace=self._workspace if training else None)
        return out

    def backward(self, dout):
        dx, dW, db = conv2d_relu_backward(dout, self._cache, need_dx=self.input_grad)
        self.grads["W"], self.grads["b"] = dW, db
        return dx


def fuse(model, kind):
    """A copy of ``model`` with ReLU → MaxPool2D ("relu-pool") or Conv2D → ReLU ("conv-relu")
    pairs replaced by one fused layer sharing nothing with the original."""
    layers, src = [], [copy.deepcopy(layer) for layer in model.layers]
    i = 0
    while i < len(src):
        a, b = src[i], src[i + 1] if i + 1 < len(src) else None
        if kind == "relu-pool" and isinstance(a, ReLU) and type(b) is MaxPool2D:
            layers.append(ReluMaxPool(b.kernel_size, b.stride))
            i += 2
        elif kind == "conv-relu" and type(a) is Conv2D and isinstance(b, ReLU):
            fused = ConvReLU(a.in_channels, a.out_channels, a.kernel_size, stride=a.stride, padding=a.padding)
            fused.params = {k: v.copy() for k, v in a.params.items()}
            fused.zero_grads()
            layers.append(fused)
            i += 2
        else:
            layers.append(a)
            i += 1
    return Sequential(layers, optimizer={"kind": "sgd", "lr": 0.01})


def prepare(model, batch):
    model.layers[0].input_grad = False
    per_shard = model._samples_per_shard((1, 28, 28))
    shards = len(model._shard_bounds(batch, per_shard))
    replicas = model._replicas(shards) if shards > 1 else []
    slots = [(name, *model._locate(name)) for name, _ in model.named_parameters()]
    return per_shard, replicas, slots


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=8192)
    ap.add_argument("--variant", choices=["compact", "classic"], default="compact")
    ap.add_argument("--data-dir")
    args = ap.parse_args(argv)
    X, y = load_images(data_dir_of(args), args.n)
    print(describe())
    print(f"LeNet-5 {args.variant}, batch {args.batch}, {args.steps} timed steps each, interleaved every step")
    for th in (int(t) for t in args.threads.split(",")):
        base = lenet5(variant=args.variant, optimizer={"kind": "sgd", "lr": 0.01}, seed=0)
        models = {"unfused": base, "relu-pool": fuse(base, "relu-pool"), "conv-relu": fuse(base, "conv-relu")}
        runs = [(name, model, *prepare(model, args.batch), []) for name, model in models.items()]
        grads = {}
        with threadpool_limits(th):
            for name, model, per_shard, replicas, slots, _ in runs:       # identical gradients first
                model._forward_backward(X[:args.batch], y[:args.batch], per_shard, replicas, False)
                grads[name] = [g.copy() for _, g in model.named_gradients()]
            for name in grads:
                same = all(np.array_equal(a, b) for a, b in zip(grads["unfused"], grads[name]))
                if not same:
                    raise SystemExit(f"fused_potential: {name} gradients differ from the unfused ones")
            batches = max(1, len(X) // args.batch)
            for k in range(args.warmup + args.steps):
                b = k % batches
                Xb, yb = X[b * args.batch:(b + 1) * args.batch], y[b * args.batch:(b + 1) * args.batch]
                turn = k % len(runs)
                for name, model, per_shard, replicas, slots, times in runs[turn:] + runs[:turn]:
                    t = time.perf_counter()
                    model._forward_backward(Xb, yb, per_shard, replicas, False)
                    model._step(slots, [], [])
                    if k >= args.warmup:
                        times.append(time.perf_counter() - t)
        ref = np.array(runs[0][-1])
        print(f"{th} thread(s) (gradients of the first step identical):")
        for name, *_, times in runs:
            t = np.array(times)
            print(f"  {name:>10s} {args.batch * len(t) / t.sum():8.0f} samples/s   vs unfused: "
                  f"total {ref.sum() / t.sum():.3f}  median per-step {statistics.median(ref / t):.3f}")


if __name__ == "__main__":
    main()
