"""Per-step A/B of LeNet-5 training: which of two or more code settings trains faster.

On a shared machine throughput drifts by tens of percent over seconds, so timing one setting
for a while and then the other measures the drift as much as the code. This script trains
one model per setting and lets the settings take turns *every step*, on the same batch, the
order rotating from step to step, so that drift hits all alike. A setting is a list of
module-attribute overrides applied just before its step and undone after it, e.g.::

    python benchmarks/ab_step.py \\
        --setting groups= \\
        --setting single-rows=proxnet.functional.conv:GROUP_ROWS_BELOW=0

(``name=`` with nothing after it: the code as it is). Several overrides in one setting are
separated by commas; values are Python literals (``ast.literal_eval``, tuples included). The first setting is
the baseline. For each setting and thread count the script prints samples per second over
all its steps and its speed relative to the baseline on the same thread count, both as the
ratio of total times and as the median of the per-step ratios.

Each step is what ``Sequential.fit`` does for a batch: forward, loss and backward of the
batch's shards (the first layer computes no input gradient), then the training step; it is
built from the pieces of :mod:`proxnet.training` (``Shards``, ``forward_backward``,
``training_step``) so that nothing else (epoch bookkeeping, progress) is timed. The docs' "per-step A/B" figures come from this script.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lenet import data_dir_of, load_images  # noqa: E402
from machine import describe  # noqa: E402

from proxnet.parallel import shard_session  # noqa: E402


def parse_setting(text):
    """'name=mod:attr=value,mod:attr=value' -> (name, [(module, attr path, value)])."""
    name, _, rest = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"--setting {text!r}: expected NAME=[OVERRIDES]")
    overrides = []
    for item in filter(None, re.split(r",(?=[\w.]+:)", rest)):   # a comma before module:
        target, eq, value = item.partition("=")
        module, colon, path = target.partition(":")
        if not (eq and colon and module and path):
            raise argparse.ArgumentTypeError(
                f"--setting {text!r}: expected overrides like module:attr=value, got {item!r}")
        try:
            overrides.append((module, path, ast.literal_eval(value)))
        except (ValueError, SyntaxError) as exc:
            raise argparse.ArgumentTypeError(f"--setting {text!r}: {value!r} is not a Python literal") from exc
    return name, overrides


def _owner(module, path):
    obj = importlib.import_module(module)
    *parents, attr = path.split(".")
    for p in parents:
        obj = getattr(obj, p)
    if not hasattr(obj, attr):
        raise SystemExit(f"ab_step: {module}:{path} does not exist")
    return obj, attr


class Override:
    """Apply a setting's overrides in a ``with`` block, then put the old values back."""

    def __init__(self, overrides):
        self.targets = [(*_owner(m, p), v) for m, p, v in overrides]

    def __enter__(self):
        self.saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in self.targets]
        for obj, attr, value in self.targets:
            setattr(obj, attr, value)

    def __exit__(self, *exc):
        for obj, attr, value in reversed(self.saved):
            setattr(obj, attr, value)


def build(args, override):
    """A model and its shards, built under the setting's overrides."""
    from proxnet.architectures import lenet5
    from proxnet.training import Shards
    with override:
        model = lenet5(variant=args.variant, pooling=args.pooling, activation="relu",
                       optimizer={"kind": "sgd", "lr": 0.01}, seed=0)
        model.layers[0].input_grad = False          # as in fit: the first layer needs no dx
        shards = Shards(model.layers, (1, 28, 28), model.dtype.itemsize, args.batch)
    return model, shards


def train_step(model, shards, Xb, yb):
    """Gradient of the batch in shards, then the training step (no regularizers)."""
    from proxnet.training import training_step
    from proxnet.training.trainer import forward_backward
    shards.gradient(lambda layers, X, y, w: forward_backward(layers, model.loss_fn, X, y, w), Xb, yb)
    new = training_step(dict(model.named_parameters()), dict(model.named_gradients()),
                        model.optimizer, {})
    for name, value in new.items():
        layer, key = model.locate(name)
        layer.params[key] = value


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setting", action="append", type=parse_setting, required=True,
                    help="NAME=[module:attr=value,...]; give two or more, the first is the baseline")
    ap.add_argument("--threads", default="1", help="thread count(s), comma-separated (default 1)")
    ap.add_argument("--steps", type=int, default=300, help="timed steps per setting and thread count")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=8192, help="MNIST training images cycled through")
    ap.add_argument("--variant", choices=["compact", "classic"], default="compact")
    ap.add_argument("--pooling", choices=["max", "avg"], default="max")
    ap.add_argument("--data-dir", help="folder holding mnist/ (default $PROXNET_DATA or ../shared/data)")
    args = ap.parse_args(argv)
    if len(args.setting) < 2:
        ap.error("give at least two --setting")
    threads = [int(t) for t in args.threads.split(",")]
    X, y = load_images(data_dir_of(args), args.n)
    batches = max(1, len(X) // args.batch)

    print(describe())
    print(f"LeNet-5 {args.variant}, batch {args.batch}, {args.steps} timed steps per setting, "
          f"settings alternating every step")
    for th in threads:
        runs = []
        for name, overrides in args.setting:
            override = Override(overrides)
            runs.append((name, override, *build(args, override), []))
        # As in fit: one shard session (single-threaded BLAS, the thread count read once)
        # around all the steps, not one per step.
        with threadpool_limits(th), shard_session():
            for k in range(args.warmup + args.steps):
                b = k % batches
                Xb, yb = X[b * args.batch:(b + 1) * args.batch], y[b * args.batch:(b + 1) * args.batch]
                turn = k % len(runs)
                for name, override, model, shards, times in runs[turn:] + runs[:turn]:
                    with override:
                        t = time.perf_counter()
                        train_step(model, shards, Xb, yb)
                        dt = time.perf_counter() - t
                    if k >= args.warmup:
                        times.append(dt)
        base = np.array(runs[0][-1])
        print(f"{th} thread(s):")
        for name, *_, times in runs:
            t = np.array(times)
            print(f"  {name:>16s} {args.batch * len(t) / t.sum():8.0f} samples/s   vs {runs[0][0]}: "
                  f"total {base.sum() / t.sum():.3f}  median per-step {statistics.median(base / t):.3f}")


if __name__ == "__main__":
    main()
