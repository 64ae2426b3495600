"""The execution plan of a model's layers in training and batched inference: exact
algebraic rewrites, applied wherever a model has the pattern.

``ReLU → MaxPool2D`` runs as one unit computing ``relu(max_pool(x))`` (max pooling commutes
with ReLU; :mod:`proxnet.functional.fused` proves the gradients equal): the ReLU acts on the
pooled tensor, kh·kw times smaller, and with the compiled kernels the maximum, the ReLU and
the argmax are one pass. Outputs and gradients are identical to the layer-by-layer pass, bit
for bit (``tests/test_plan.py``), so the plan changes speed only. ``Sequential.forward`` and
``backward`` keep running the layers one by one, as written.

:data:`FUSE` turns the rewrites off (``benchmarks/ab_step.py`` compares both).
"""
from __future__ import annotations

from ..functional.fused import relu_max_pool2d_backward, relu_max_pool2d_forward
from ..layers import Layer, MaxPool2D, ReLU

__all__ = ["FUSE", "ReLUMaxPool", "execution_plan"]

FUSE = True
"""Apply the rewrites (True by default; set False to run every layer on its own)."""


class ReLUMaxPool(Layer):
    """A ReLU followed by a max pooling, run as ``relu(max_pool(x))`` (no parameters)."""

    shardable = True
    scratch = {"_cache": None}

    def __init__(self, pool: MaxPool2D):
        super().__init__()
        self.pool = pool

    def forward(self, x, *, training=False):
        self.pool.output_shape(x.shape[1:])          # the pool's own shape checks and errors
        out, self._cache = relu_max_pool2d_forward(x, self.pool.kernel_size, self.pool.stride)
        return out

    def backward(self, dout):
        return relu_max_pool2d_backward(dout, self._cache)

    def output_shape(self, input_shape):
        return self.pool.output_shape(input_shape)

    def describe(self):
        return f"ReLU → {self.pool.describe()} (fused)"


def execution_plan(layers) -> list:
    """The units that run ``layers``: the layers themselves, with each ``ReLU`` directly
    followed by a ``MaxPool2D`` (exact classes) replaced by a :class:`ReLUMaxPool` when
    :data:`FUSE` is on. Layers with parameters are always the model's own objects."""
    if not FUSE:
        return list(layers)
    units, i = [], 0
    while i < len(layers):
        a, b = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if type(a) is ReLU and type(b) is MaxPool2D:
            units.append(ReLUMaxPool(b))
            i += 2
        else:
            units.append(a)
            i += 1
    return units
