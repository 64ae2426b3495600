"""Shards: a batch cut into pieces that run on layer replicas, on several threads.

A training step whose batch's activations exceed :data:`SHARD_BYTES` (and whose layers are
all ``shardable``) cuts the batch into an even number of nearly equal shards that fit in a
core's cache. Every shard runs the gradient function (forward, loss and backward) on its own
replica of the layers, which shares the parameters but has its own gradients and caches; its
loss gradient is weighted by its share of the batch, and the shards' gradients are summed in
shard order into the model's layers: the gradient of the whole batch's mean loss, up to float
rounding. Inference cuts batches of :data:`INFERENCE_BATCH` samples into shards of
:data:`INFERENCE_SHARD_BYTES`.

The cut depends on the batch and the model only, never on the number of threads
(:func:`proxnet.parallel.num_threads`), so results are the same bit for bit on 1 thread or
on several; :func:`proxnet.parallel.run_shards` runs the pieces.
"""
from __future__ import annotations

import math

import numpy as np

from ..parallel import run_shards
from .plan import execution_plan

__all__ = ["SHARD_BYTES", "INFERENCE_SHARD_BYTES", "INFERENCE_BATCH", "samples_per_shard",
           "shard_bounds", "make_replicas", "Shards", "forward_batched"]

SHARD_BYTES = 2**21
"""A training step cuts its batch into shards of at most this many bytes of activations
(2 MiB: the input and every layer's output of the shard's samples)."""

INFERENCE_SHARD_BYTES = 2**24
"""Inference shards hold at most this many bytes of activations (16 MiB: nothing is kept
for a backward pass, so shards may be larger)."""

INFERENCE_BATCH = 4096
"""Inference (``predict``, ``evaluate``, the metrics of ``fit``) runs in batches of this many
samples, each cut into shards of :data:`INFERENCE_SHARD_BYTES`."""


def samples_per_shard(layers, sample_shape, itemsize: int, budget: int) -> int | None:
    """Most samples in one shard (their activations under ``budget`` bytes), or None when
    some layer is not ``shardable``."""
    if not all(layer.shardable for layer in layers):
        return None
    shape = tuple(sample_shape)
    values = math.prod(shape)
    for layer in layers:
        shape = layer.output_shape(shape)
        values += math.prod(shape)
    return max(1, budget // (values * itemsize))


def shard_bounds(n: int, per_shard: int | None) -> list[tuple[int, int]]:
    """[(start, stop)] of the shards of a batch of ``n``: an even number of nearly equal
    shards (even, so that two threads get the same work), or one when it fits."""
    count = 1 if per_shard is None else -(-n // per_shard)
    if count > 1:
        count = min(n, count + count % 2)
    size, extra = divmod(n, count)
    cuts = [0]
    for i in range(count):
        cuts.append(cuts[-1] + size + (i < extra))
    return list(zip(cuts[:-1], cuts[1:]))


def make_replicas(layers, count: int) -> list[list]:
    """``count`` lists of layer replicas (shared parameters, own grads and scratch)."""
    return [[layer.replica() for layer in layers] for _ in range(max(0, count))]


class Shards:
    """The shards of a model's training batches.

    Parameters
    ----------
    layers : list of Layer
        The model's layers; gradients are summed into their ``grads``. They run as their
        execution plan (:func:`proxnet.training.plan.execution_plan`), kept in ``self.layers``.
    sample_shape : tuple
        Shape of one input sample.
    itemsize : int
        Bytes per value (4 for float32).
    max_batch : int
        The largest batch this object will see (replicas are made for it once).
    budget : int
        Bytes of activations per shard, default :data:`SHARD_BYTES`.
    """

    def __init__(self, layers, sample_shape, itemsize: int, max_batch: int, budget: int | None = None):
        # The cut is sized on the model's layers, so a rewrite of the plan never changes it.
        self.per_shard = samples_per_shard(layers, sample_shape, itemsize,
                                           SHARD_BYTES if budget is None else budget)
        self.layers = execution_plan(layers)
        most = len(shard_bounds(max_batch, self.per_shard))
        self.replicas = make_replicas(self.layers, most) if most > 1 else []

    def bounds(self, n: int) -> list[tuple[int, int]]:
        return shard_bounds(n, self.per_shard) if self.replicas else [(0, n)]

    def gradient(self, fn, X, y):
        """Run ``fn(layers, X_shard, y_shard, weight) -> (mean loss, score)`` on every shard
        and leave the summed gradients in ``self.layers``' grads.

        Returns (mean loss of the batch, summed score). A NaN/inf loss is returned before the
        gradients are summed."""
        bounds = self.bounds(X.shape[0])
        if len(bounds) == 1:
            return fn(self.layers, X, y, 1)
        n = X.shape[0]
        results = run_shards(lambda i: fn(self.replicas[i], X[bounds[i][0]:bounds[i][1]],
                                          y[bounds[i][0]:bounds[i][1]],
                                          (bounds[i][1] - bounds[i][0]) / n), len(bounds))
        loss = sum(r[0] * (b[1] - b[0]) for r, b in zip(results, bounds)) / n
        if not np.isfinite(loss):
            return loss, 0
        self._reduce(len(bounds))
        return loss, sum(r[1] for r in results)

    def _reduce(self, count: int) -> None:
        """grads of the model's layers = Σ over the first ``count`` replicas, in order."""
        for j, layer in enumerate(self.layers):
            for key in layer.params:
                total = self.replicas[0][j].grads[key] + self.replicas[1][j].grads[key]
                for shard in self.replicas[2:count]:
                    total += shard[j].grads[key]
                layer.grads[key] = total


def forward_batched(layers, X, itemsize: int, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """Inference outputs of ``layers`` for X, in batches of ``batch_size``, each cut into
    shards of :data:`INFERENCE_SHARD_BYTES` that run on threads (the cut depends on X and the
    layers only, like training shards)."""
    per_shard = samples_per_shard(layers, X.shape[1:], itemsize, INFERENCE_SHARD_BYTES)
    layers = execution_plan(layers)
    replicas: list = []
    outs = []
    for s in range(0, X.shape[0], batch_size):
        batch = X[s:s + batch_size]
        bounds = shard_bounds(batch.shape[0], per_shard)
        if len(bounds) == 1:
            outs.append(_forward(layers, batch))
            continue
        replicas += make_replicas(layers, len(bounds) - len(replicas))
        outs.extend(run_shards(lambda i, b=batch, bd=bounds: _forward(replicas[i], b[bd[i][0]:bd[i][1]]),
                               len(bounds)))
    return outs[0] if len(outs) == 1 else np.concatenate(outs)


def _forward(layers, X):
    out = X
    for layer in layers:
        out = layer.forward(out, training=False)
    return out
