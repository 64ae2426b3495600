"""The Layer contract.

A layer holds its parameters and their gradients in dicts keyed by name
(``"W"``, ``"b"``) and the regularizer attached to each parameter.

- ``forward(x, *, training) -> out`` caches what backward needs;
- ``backward(dout) -> dx`` fills ``self.grads[k]`` for every ``k`` in ``self.params``.

Parameters are found by name (``Sequential.named_parameters()`` yields ``"0.W"``),
never discovered with ``hasattr``.
"""
from __future__ import annotations

import contextvars
import copy

import numpy as np

from ..backend import as_generator, resolve_dtype
from ..regularizers import get_regularizer
from .initializers import check_init

_BUILDING_FROM_ARRAYS = contextvars.ContextVar("proxnet_building_from_arrays", default=False)


class Layer:
    """Base class. Subclasses set ``params`` and implement ``forward``/``backward``.

    Attributes
    ----------
    params : dict[str, ndarray]
        Trainable arrays by name.
    grads : dict[str, ndarray]
        Gradients of the loss w.r.t. ``params``, same keys and shapes (filled by backward).
    regularizers : dict[str, Regularizer | None]
        Regularizer per parameter name (``None`` = not regularized).
    weight_names : tuple[str, ...]
        Which params are weights (the model-wide default regularizer applies to these only).
        The others (``"b"``) are biases.
    input_grad : bool
        When False, ``backward`` may skip computing dx and return None (the first layer
        of a model in training needs no input gradient).
    shardable : bool (class attribute)
        True when forward and backward treat every sample independently and deterministically
        and keep nothing between calls but the attributes named in ``scratch``, so that a batch
        may be cut into shards run at the same time on :meth:`replica` s (see
        :mod:`proxnet.training.shards`). False by default, so a layer written elsewhere is
        never split without saying it may be.
    scratch : dict[str, object] (class attribute)
        Every attribute a call writes (caches, work buffers) and its empty value (or a
        callable making one, e.g. ``dict``): a :meth:`replica` gets fresh ones, copies and
        pickles leave them behind. A shardable layer must name all of them here.
    """

    shardable: bool = False
    scratch: dict = {"_cache": None}

    weight_names: tuple[str, ...] = ()
    unit_axes: dict[str, tuple[int, int]] = {}
    """For each weight: (axis of output units, axis of inputs), e.g. Dense W (D, M) -> (1, 0),
    Conv2D W (F, C, kh, kw) -> (0, 1). Group regularizers (group lasso, max-norm) use it."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.regularizers: dict = {}
        self.input_grad = True
        self.dtype = resolve_dtype(None)
        self._clear_scratch()

    def _clear_scratch(self) -> None:
        for name, empty in self.scratch.items():
            setattr(self, name, empty() if callable(empty) else empty)

    # -- the contract --------------------------------------------------------
    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def replica(self) -> "Layer":
        """A shallow copy that shares this layer's ``params`` dict (so it always computes with
        the current parameters, also after an optimizer step replaces them) but has its own
        ``grads`` and fresh ``scratch`` attributes. Training steps run shards of a batch on
        replicas."""
        twin = copy.copy(self)
        twin.grads = {}
        twin._clear_scratch()
        return twin

    def __getstate__(self):
        # Copies and pickles leave the scratch (caches, work buffers) behind: it can be
        # large and the next forward rebuilds it.
        state = self.__dict__.copy()
        for name, empty in self.scratch.items():
            state[name] = empty() if callable(empty) else empty
        return state

    # -- building from a file ------------------------------------------------------
    def parameter_shapes(self) -> dict:
        """``{name: shape}`` of the parameters this layer's configuration implies (known
        before any parameter exists, so a model file is checked before allocating)."""
        return {}

    @classmethod
    def from_arrays(cls, config: dict, params: dict) -> "Layer":
        """A layer built from its ``get_config()`` and its parameter arrays, which are checked
        against :meth:`parameter_shapes` first; nothing is randomly initialized."""
        token = _BUILDING_FROM_ARRAYS.set(True)
        try:
            layer = cls(**config)
        finally:
            _BUILDING_FROM_ARRAYS.reset(token)
        expected = layer.parameter_shapes()
        if set(expected) != set(params):
            raise ValueError(f"{cls.__name__}: parameters {sorted(params)} given, the "
                             f"configuration has {sorted(expected)}")
        for name, shape in expected.items():
            if tuple(params[name].shape) != tuple(shape):
                raise ValueError(f"{cls.__name__}: parameter {name!r} has shape "
                                 f"{tuple(params[name].shape)}, the configuration needs {tuple(shape)}")
            layer.params[name] = params[name]
        return layer

    # -- helpers shared by all layers -----------------------------------------
    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re)initialize parameters from ``rng``. Layers without parameters do nothing."""

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give a stochastic layer (dropout) its generator. Deterministic layers ignore it."""

    def astype(self, dtype) -> "Layer":
        """Cast parameters to ``dtype`` in place of the dicts; returns self."""
        self.dtype = resolve_dtype(dtype)
        for k, v in self.params.items():
            self.params[k] = np.ascontiguousarray(v, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        return self

    def _init_weights(self, init, bias, dtype, seed, weight_regularizer, bias_regularizer,
                      bias_init="zeros") -> None:
        """Shared constructor tail of layers with a weight ``W`` and an optional bias ``b``:
        check and store ``init``/``bias_init``/``bias``/``dtype``, draw the parameters from
        ``seed`` and attach the regularizers (a bias regularizer or a bias initializer other
        than zeros without a bias is an error)."""
        self.init, self.bias = check_init(init, "init"), bool(bias)
        self.bias_init = check_init(bias_init, "bias_init")
        if not self.bias and self.bias_init not in ("zeros", {"kind": "zeros"}):
            raise ValueError("bias_init: the layer has bias=False")
        self.dtype = resolve_dtype(dtype)
        if _BUILDING_FROM_ARRAYS.get():
            # from_arrays fills the parameters: declare their names, allocate nothing
            self.params = {k: np.empty((0,) * len(shape), self.dtype)
                           for k, shape in self.parameter_shapes().items()}
        else:
            self.reset_parameters(as_generator(seed))
        self.set_regularizer("W", weight_regularizer)
        if self.bias:
            self.set_regularizer("b", bias_regularizer)
        elif bias_regularizer is not None:
            raise ValueError("bias_regularizer: the layer has bias=False")

    def set_regularizer(self, name: str, reg) -> None:
        """Attach regularizer ``reg`` (or None) to parameter ``name``, bound to its unit axes."""
        if name not in self.params:
            raise ValueError(f"parameter: {type(self).__name__} has {sorted(self.params)}, got {name!r}")
        reg = get_regularizer(reg)
        if reg is not None and reg.structured:
            out_axis, in_axis = self.unit_axes.get(name, (self.params[name].ndim - 1, 0))
            reg = reg.bind(out_axis, in_axis)
        self.regularizers[name] = reg

    def zero_grads(self) -> None:
        for k, v in self.params.items():
            self.grads[k] = np.zeros_like(v)

    def output_shape(self, input_shape: tuple) -> tuple:
        """Shape of one output sample for one input sample shape (no batch axis)."""
        return tuple(input_shape)

    def get_config(self) -> dict:
        """Plain-data constructor arguments (JSON-serializable) for save/load."""
        return {}

    def n_params(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def describe(self) -> str:
        """A short description for summaries: the class and its settings."""
        cfg = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({cfg})" if cfg else type(self).__name__

    def __repr__(self):
        cfg = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({cfg})"
