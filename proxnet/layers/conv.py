"""2-D convolution layer (NCHW)."""
from __future__ import annotations

import numpy as np

from ..functional.conv import _pair, conv2d_backward, conv2d_forward, conv_output_size
from .base import Layer
from .initializers import init_parameters


def _plain(pair):
    """(a, a) -> a and (a, b) -> [a, b]: the JSON form of a size given as an int or a pair."""
    return pair[0] if pair[0] == pair[1] else [pair[0], pair[1]]


class Conv2D(Layer):
    """2-D convolution (cross-correlation, like ``torch.nn.Conv2d``) over NCHW images.

    out[n, f] = b[f] + Σ_c W[f, c] ⋆ xpad[n, c], computed by im2col on strided views and one
    matrix product (see :mod:`proxnet.functional.conv`).

    Parameters
    ----------
    in_channels, out_channels : int
        C and F: input (N, C, H, W), weight W (F, C, kh, kw), bias b (F,),
        output (N, F, OH, OW) with OH = (H + 2·ph − kh) // sh + 1 (OW likewise).
    kernel_size : int or (int, int)
        (kh, kw).
    stride : int or (int, int)
        (sh, sw), default 1.
    padding : int or (int, int)
        Zeros added on each side, (ph, pw), default 0.
    bias : bool
        Whether the layer has a bias.
    init : str or dict
        Weight initializer spec (see :mod:`proxnet.layers.initializers`), default ``"he"``
        with fan_in = C·kh·kw and fan_out = F·kh·kw.
    bias_init : str or dict
        Bias initializer spec, default ``"zeros"`` (``"torch"``: U(±1/√(C·kh·kw)), PyTorch's
        ``nn.Conv2d``). Drawn after the weights from the same generator.
    weight_regularizer, bias_regularizer : Regularizer, dict or None
        Per-layer regularizers. Group regularizers (group lasso, max-norm) group each filter
        W[f] (``unit_axes = {"W": (0, 1)}``): zeroing a group removes an output channel.
    seed : int, Generator or None
        Initialization randomness.
    dtype : float32 (default) or float64
    """

    shardable = True   # samples are independent: see Layer.shardable
    scratch = {"_cache": None, "_workspace": dict}   # _workspace: the padded input of training

    weight_names = ("W",)
    unit_axes = {"W": (0, 1)}

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 bias: bool = True, init="he", bias_init="zeros", weight_regularizer=None,
                 bias_regularizer=None, seed=None, dtype=None):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size) < 1:
            raise ValueError(f"kernel_size: expected positive sizes, got {kernel_size!r}")
        if min(self.stride) < 1:
            raise ValueError(f"stride: expected positive steps, got {stride!r}")
        if min(self.padding) < 0:
            raise ValueError(f"padding: expected sizes >= 0, got {padding!r}")
        self._init_weights(init, bias, dtype, seed, weight_regularizer, bias_regularizer, bias_init)

    def parameter_shapes(self):
        shapes = {"W": (self.out_channels, self.in_channels, *self.kernel_size)}
        if self.bias:
            shapes["b"] = (self.out_channels,)
        return shapes

    def reset_parameters(self, rng):
        F, C = self.out_channels, self.in_channels
        kh, kw = self.kernel_size
        W, b = init_parameters(self.init, self.bias_init if self.bias else None, (F, C, kh, kw), (F,),
                               C * kh * kw, F * kh * kw, rng, self.dtype)
        self.params["W"] = W
        if self.bias:
            self.params["b"] = b
        self.zero_grads()

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            hint = " (images must be NCHW: load them with flatten=False)" if len(input_shape) == 1 else ""
            raise ValueError(f"Conv2D input: expected a sample shape ({self.in_channels}, H, W), "
                             f"got {input_shape}{hint}")
        _, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        OH, OW = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
        if OH < 1 or OW < 1:
            raise ValueError(f"Conv2D input: a {H}×{W} image with padding {self.padding} is smaller "
                             f"than the {kh}×{kw} kernel")
        return (self.out_channels, OH, OW)

    def forward(self, x, *, training=False):
        """x (N, C, H, W) -> (N, F, OH, OW). The padded-input buffer is kept between training
        calls (``_workspace``); at inference it lasts for the call only. Other scratch is
        kept per thread (see :mod:`proxnet.functional.conv`)."""
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            hint = " (images must be NCHW: load them with flatten=False)" if x.ndim == 2 else ""
            raise ValueError(f"Conv2D input: expected shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}{hint}")
        self.output_shape(x.shape[1:])
        W = self.params["W"]
        if x.dtype != W.dtype:
            x = x.astype(W.dtype)
        out, self._cache = conv2d_forward(x, W, self.params.get("b"), self.stride, self.padding,
                                          workspace=self._workspace if training else None)
        return out

    def backward(self, dout):
        if self._cache is None:
            raise RuntimeError("Conv2D.backward called before forward")
        g = self._cache[2]
        expected = (g["N"], self.out_channels, g["OH"], g["OW"])
        if dout.shape != expected:
            raise ValueError(f"Conv2D backward: expected dout of shape {expected}, got {dout.shape}")
        dx, dW, db = conv2d_backward(dout, self._cache, need_dx=self.input_grad)
        self.grads["W"] = dW
        if self.bias:
            self.grads["b"] = db
        return dx

    def describe(self):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (f"Conv2D {self.in_channels}→{self.out_channels}, {kh}×{kw}"
                + (f", stride {sh}×{sw}" if (sh, sw) != (1, 1) else "")
                + (f", pad {ph}×{pw}" if (ph, pw) != (0, 0) else ""))

    def astype(self, dtype):
        self._clear_scratch()
        return super().astype(dtype)

    def get_config(self):
        cfg = {"in_channels": self.in_channels, "out_channels": self.out_channels,
               "kernel_size": _plain(self.kernel_size), "stride": _plain(self.stride),
               "padding": _plain(self.padding), "bias": self.bias, "init": self.init}
        if self.bias:
            cfg["bias_init"] = self.bias_init
        return cfg
