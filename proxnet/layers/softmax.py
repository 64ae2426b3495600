"""The softmax layer: class probabilities as a layer's output, so that a loss can act on them.

The fused ``softmax_cross_entropy`` loss already applies a softmax to logits; this layer is
for the other uses, e.g. the mean squared error between probabilities and one-hot labels
(``mlp(..., output_activation="softmax", loss="mse")``).
"""
from __future__ import annotations

from ..functional.activations import softmax_backward, softmax_forward
from .activations import ACTIVATIONS
from .base import Layer


@ACTIVATIONS.register("softmax")
class Softmax(Layer):
    """softmax over the last axis: (N, K) -> (N, K), each row non-negative and summing to 1.

    Forward is max-shifted (stable for any finite input); backward is the full
    Jacobian-vector product, not the diagonal approximation. Samples are independent, so a
    batch may be sharded.
    """

    shardable = True   # samples are independent: see Layer.shardable

    def __init__(self):
        super().__init__()
        self._cache = None

    def forward(self, x, *, training=False):
        if x.ndim < 2 or x.shape[-1] < 1:
            raise ValueError(f"Softmax input: expected shape (N, K) with K >= 1, got {x.shape}")
        out, self._cache = softmax_forward(x)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError("Softmax.backward called before forward")
        if dout.shape != self._cache.shape:
            raise ValueError(f"Softmax backward: expected dout of shape {self._cache.shape}, "
                             f"got {dout.shape}")
        return softmax_backward(dout, self._cache)
