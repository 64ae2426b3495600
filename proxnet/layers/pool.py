"""2-D pooling layers (NCHW, no padding, floor mode as PyTorch)."""
from __future__ import annotations

import numpy as np

from ..functional.conv import _pair
from ..functional.pool import (avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,
                               max_pool2d_forward, pool_output_size)
from .base import Layer
from .conv import _plain


class _Pool2D(Layer):
    shardable = True   # samples are independent: see Layer.shardable
    scratch = {"_cache": None, "_out_shape": None}
    _fwd = staticmethod(max_pool2d_forward)
    _bwd = staticmethod(max_pool2d_backward)

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self._stride_given = stride is not None
        if min(self.kernel_size) < 1:
            raise ValueError(f"kernel_size: expected positive sizes, got {kernel_size!r}")
        if min(self.stride) < 1:
            raise ValueError(f"stride: expected positive steps, got {stride!r}")

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        name = type(self).__name__
        if len(input_shape) != 3:
            raise ValueError(f"{name} input: expected a sample shape (C, H, W), got {input_shape}")
        C, H, W = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if H < kh or W < kw:
            raise ValueError(f"{name} input: a {H}×{W} image is smaller than the {kh}×{kw} window")
        return (C, pool_output_size(H, kh, sh), pool_output_size(W, kw, sw))

    def forward(self, x, *, training=False):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} input: expected shape (N, C, H, W), got {x.shape}")
        self.output_shape(x.shape[1:])
        if x.dtype.kind != "f":
            x = x.astype(self.dtype)
        out, self._cache = self._fwd(x, self.kernel_size, self.stride)
        self._out_shape = out.shape
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if dout.shape != self._out_shape:
            raise ValueError(f"{type(self).__name__} backward: expected dout of shape "
                             f"{self._out_shape}, got {dout.shape}")
        return self._bwd(dout, self._cache)

    def get_config(self):
        return {"kernel_size": _plain(self.kernel_size),
                "stride": _plain(self.stride) if self._stride_given else None}


class MaxPool2D(_Pool2D):
    """Max over kh×kw windows moved by (sh, sw) (default: the kernel size, no overlap).

    Input (N, C, H, W), output (N, C, OH, OW) with OH = (H − kh) // sh + 1 (rows and columns
    no window reaches are ignored, as PyTorch does). The gradient of each window goes to its
    first maximum in row-major order (ties included), like ``torch.nn.MaxPool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int, (int, int) or None (= kernel_size)
    """
    _fwd = staticmethod(max_pool2d_forward)
    _bwd = staticmethod(max_pool2d_backward)


class AvgPool2D(_Pool2D):
    """Mean over kh×kw windows moved by (sh, sw) (default: the kernel size, no overlap).

    Parameters, shapes and flooring as :class:`MaxPool2D`; each window's gradient is spread
    evenly, dout / (kh·kw), over its entries (summed where windows overlap).
    """
    _fwd = staticmethod(avg_pool2d_forward)
    _bwd = staticmethod(avg_pool2d_backward)
