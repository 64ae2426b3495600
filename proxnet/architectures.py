"""Ready-made architectures: the one place where an MLP or a LeNet-5 is assembled.

- :func:`mlp_layers`: the layer list of a multilayer perceptron (for callers that build
  their own :class:`~proxnet.model.Sequential`: scikit-learn estimators, study trials);
- :func:`mlp`: the same as a Sequential model;
- :func:`lenet5`: LeNet-5 for small images, classic or compact.

Every builder takes initializer specs for the weights (``init``) and the biases
(``bias_init``), see :mod:`proxnet.layers.initializers`.

>>> from proxnet.architectures import lenet5, mlp
>>> lenet5(variant="compact", seed=0).output_shape((1, 28, 28))
(10,)
>>> mlp([784, 64, 10], seed=0).output_shape((784,))
(10,)
>>> lenet5(variant="compact", padding="valid", init="glorot_uniform").layers[7].in_features
256
"""
from __future__ import annotations

from .layers import (ACTIVATIONS, AvgPool2D, Conv2D, Dense, Dropout, Flatten, MaxPool2D,
                     check_init)
from .losses import get_loss
from .model import Sequential
from .validation import check_real

LENET5_VARIANTS = ("classic", "compact")
POOLINGS = {"max": MaxPool2D, "avg": AvgPool2D}
PADDINGS = ("valid", "same")
_NO_LAYER = ("identity", "linear")     # output activations that add no layer
_SQUASHING_LOSSES = {"softmax": "softmax_cross_entropy", "sigmoid": "binary_cross_entropy_with_logits"}


def _positive_int(name, v):
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}: expected a positive int, got {v!r}")


def _activation(name, arg):
    """The layer class of activation ``name``; errors name the argument ``arg``."""
    try:
        return ACTIVATIONS.get_item(name)
    except ValueError as exc:
        raise ValueError(f"{arg}: {exc}") from None


def _drop_rate(dropout) -> float:
    rate = check_real(dropout, "dropout")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: expected a drop probability in [0, 1), got {dropout!r}")
    return rate


def _sizes(sizes) -> list:
    sizes = list(sizes) if isinstance(sizes, (list, tuple)) else sizes
    if not isinstance(sizes, list) or len(sizes) < 2:
        raise ValueError(f"sizes: expected a list of at least two layer sizes, got {sizes!r}")
    for i, v in enumerate(sizes):
        _positive_int(f"sizes[{i}]", v)
    return sizes


def mlp_layers(sizes, *, activation: str = "relu", dropout: float = 0.0, init="he",
               bias_init="zeros", output_activation=None, flatten: bool = False, dtype=None) -> list:
    """The layers of a multilayer perceptron, in order::

        [flatten →] dense → act [→ dropout] → ... → dense → act [→ dropout] → dense [→ out act]

    ``mlp_layers([784, 128, 10])`` is ``[Dense(784, 128), ReLU(), Dense(128, 10)]``.

    Parameters
    ----------
    sizes : list of int
        Input features, then each layer's width; at least two entries.
    activation : str
        A name from :data:`proxnet.layers.ACTIVATIONS` for the hidden layers.
    dropout : float in [0, 1)
        Drop probability of a :class:`~proxnet.layers.Dropout` after each hidden
        activation (never after the output layer); 0 (default) adds none.
    init, bias_init : str or dict
        Initializer specs of every Dense layer's weights (default ``"he"``) and biases
        (default ``"zeros"``); see :mod:`proxnet.layers.initializers`.
    output_activation : str or None
        An activation name appended after the last Dense layer, e.g. ``"softmax"`` (class
        probabilities) or ``"sigmoid"``. None, ``"identity"`` or ``"linear"`` (default: none)
        add no layer: the outputs are logits or linear values.
    flatten : bool
        Put a :class:`~proxnet.layers.Flatten` in front (image inputs; ``sizes[0]`` is then
        the number of pixels per sample).
    dtype : None, "float32" or "float64"
        The layers' dtype (None: float32). A Sequential casts its layers to its own dtype;
        initialized in float64 from the start, weights keep float64 precision.

    Returns
    -------
    list of Layer, not initialized from a seed (a Sequential built with ``seed=`` draws
    every layer's parameters again).
    """
    sizes = _sizes(sizes)
    act = _activation(activation, "activation")
    out_act = None
    if output_activation is not None and str(output_activation).lower() not in _NO_LAYER:
        out_act = _activation(output_activation, "output_activation")
    rate = _drop_rate(dropout)
    init, bias_init = check_init(init, "init"), check_init(bias_init, "bias_init")
    layers = [Flatten()] if flatten else []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(a, b, init=init, bias_init=bias_init, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(act())
            if rate:
                layers.append(Dropout(rate))
    if out_act is not None:
        layers.append(out_act())
    return layers


def _check_output_and_loss(output_activation, loss) -> None:
    """Refuse a squashing output before a loss that squashes again (softmax twice)."""
    name = str(output_activation).lower() if output_activation is not None else None
    if name in _SQUASHING_LOSSES and get_loss(loss).name == _SQUASHING_LOSSES[name]:
        raise ValueError(f"output_activation: {name!r} before the loss {get_loss(loss).name!r} applies "
                         f"{name} twice (the loss takes logits); use output_activation=None, or a "
                         f"loss on probabilities such as 'mse'")


def mlp(sizes, *, activation: str = "relu", dropout: float = 0.0, init="he", bias_init="zeros",
        output_activation=None, loss: str = "softmax_cross_entropy", optimizer=None,
        weight_regularizer=None, seed=None, dtype=None):
    """A multilayer perceptron as a Sequential model: the layers of :func:`mlp_layers`.

    ``mlp([784, 128, 64, 10])`` is::

        dense 784→128 → act [→ dropout] → dense 128→64 → act [→ dropout] → dense 64→10

    By default the last layer is linear (logits) and the loss applies softmax or sigmoid
    itself. ``output_activation="softmax"`` with ``loss="mse"`` trains the mean squared
    error on class probabilities; a softmax (sigmoid) output before
    ``softmax_cross_entropy`` (``binary_cross_entropy_with_logits``) is refused, since the
    loss would squash a second time.

    Parameters
    ----------
    sizes, activation, dropout, init, bias_init, output_activation
        As in :func:`mlp_layers` (the layers take ``dtype`` too).
    loss, optimizer, weight_regularizer, seed, dtype
        Passed to :class:`~proxnet.model.Sequential`.

    Returns
    -------
    Sequential; inputs (N, sizes[0]), outputs (N, sizes[-1]).
    """
    layers = mlp_layers(sizes, activation=activation, dropout=dropout, init=init,
                        bias_init=bias_init, output_activation=output_activation, dtype=dtype)
    _check_output_and_loss(output_activation, loss)
    return Sequential(layers, loss=loss, optimizer=optimizer,
                      weight_regularizer=weight_regularizer, seed=seed, dtype=dtype)


def _one_padding(value, name, default):
    """One conv layer's zero padding from "valid", "same" (5×5 kernel, stride 1: 2), an int
    in [0, 4] or None (the default). More than 4 (kernel − 1) would only add outputs that see
    nothing but zeros."""
    expected = f"{name}: expected 'valid', 'same', an int in [0, 4] or None, got {value!r}"
    if value is None:
        return default
    if isinstance(value, str):
        if value.lower() not in PADDINGS:
            raise ValueError(expected)
        return 0 if value.lower() == "valid" else 2
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
        raise ValueError(expected)
    return value


def _lenet5_paddings(padding, input_size) -> tuple[int, int]:
    """(conv1, conv2) zero paddings; the default is (2, 0) on 28×28 inputs, else (0, 0)."""
    defaults = (2 if input_size == 28 else 0, 0)
    if isinstance(padding, (list, tuple)):
        if len(padding) != 2:
            raise ValueError(f"padding: expected one value for both convolutions or a pair "
                             f"[conv1, conv2], got {padding!r}")
        return tuple(_one_padding(p, f"padding[{i}]", d) for i, (p, d) in enumerate(zip(padding, defaults)))
    if padding is None:
        return defaults
    p = _one_padding(padding, "padding", None)
    return p, p


def _lenet5_features(in_channels, input_size, padding, act, pool, init, bias_init, dtype):
    """(layers, n_features): conv 6@5×5 → act → pool 2 → conv 16@5×5 → act → pool 2 →
    flatten, checked on the image size (an impossible combination names input_size and
    padding), and the number of flattened features."""
    p1, p2 = _lenet5_paddings(padding, input_size)
    conv = dict(init=init, bias_init=bias_init, dtype=dtype)
    features = [Conv2D(in_channels, 6, 5, padding=p1, **conv), act(), pool(2),
                Conv2D(6, 16, 5, padding=p2, **conv), act(), pool(2), Flatten()]
    shape = (in_channels, input_size, input_size)
    for layer in features:
        try:
            shape = layer.output_shape(shape)
        except ValueError as exc:
            raise ValueError(f"input_size: {input_size}×{input_size} images are too small for LeNet-5 "
                             f"with padding={padding!r} (conv1 {p1}, conv2 {p2}): {exc}") from None
    return features, shape[0]


def lenet5(*, variant: str = "classic", activation: str = "relu", pooling: str = "max",
           in_channels: int = 1, input_size: int = 28, n_classes: int = 10, padding=None,
           init="he", bias_init="zeros", dropout: float = 0.0, optimizer=None,
           weight_regularizer=None, seed=None, dtype=None):
    """LeNet-5 (LeCun et al., 1998) for small square images, as a Sequential model.

    ``variant="classic"``::

        conv 6@5×5 → act → pool 2 → conv 16@5×5 → act → pool 2 → flatten
        → dense 120 → act → dense 84 → act → dense n_classes

    ``variant="compact"`` (used in some courses) drops the 120-unit layer::

        conv 6@5×5 → act → pool 2 → conv 16@5×5 → act → pool 2 → flatten
        → dense 84 → act → dense n_classes

    By default every weight is He-initialized and every bias starts at zero. On 28×28 MNIST
    digits (default padding: 2 on conv1) the feature maps are 6@28×28 → 6@14×14 → 16@10×10
    → 16@5×5 (400 features). The Keras LeNet-5 (both convolutions valid, Glorot-uniform
    weights, 256 features) is ``lenet5(variant="compact", padding="valid",
    init="glorot_uniform")``.

    Parameters
    ----------
    variant : {"classic", "compact"}
    activation : str
        A name from :data:`proxnet.layers.ACTIVATIONS` ("relu", "tanh", "sigmoid", ...),
        used after both convolutions and every hidden dense layer.
    pooling : {"max", "avg"}
        2×2 pooling with stride 2.
    in_channels : int
        Image channels (1 for MNIST).
    input_size : int
        Height = width of the input images.
    n_classes : int
        Outputs (logits) of the last layer.
    padding : None, "valid", "same", an int in [0, 4], or a pair [conv1, conv2] of these
        Zero padding of the two convolutions: one value for both, or one per convolution
        (a None entry keeps that one's default). "valid" is 0, "same" is 2 (keeps the
        size: 5×5 kernels, stride 1). None: 2 on conv1 for 28×28 inputs (the usual MNIST
        LeNet-5, 28 → 28 → 14 → 10 → 5), else 0 (the original 32 → 28 → 14 → 10 → 5);
        conv2 valid. Images too small for the paddings are refused (the error names
        ``input_size`` and ``padding``).
    init, bias_init : str or dict
        Initializer specs of every convolution's and dense layer's weights (default
        ``"he"``) and biases (default ``"zeros"``), see :mod:`proxnet.layers.initializers`.
    dropout : float in [0, 1)
        Drop probability of a Dropout after each hidden dense layer's activation (not after
        the convolutions); 0 (default) adds none.
    optimizer, weight_regularizer : passed to :class:`~proxnet.model.Sequential`
        (default optimizer: SGD, lr 0.01). Group regularizers group each conv filter.
    seed : int, Generator or None
        Initializes every layer (see :class:`~proxnet.model.Sequential`).
    dtype : "float32" (default) or "float64"

    Returns
    -------
    Sequential with loss ``"softmax_cross_entropy"``; inputs (N, in_channels, input_size,
    input_size), outputs (N, n_classes).
    """
    if variant not in LENET5_VARIANTS:
        raise ValueError(f"variant: expected one of {', '.join(map(repr, LENET5_VARIANTS))}, got {variant!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling: expected one of {', '.join(map(repr, POOLINGS))}, got {pooling!r}")
    act = _activation(activation, "activation")
    for name, v in (("in_channels", in_channels), ("input_size", input_size), ("n_classes", n_classes)):
        _positive_int(name, v)
    init, bias_init = check_init(init, "init"), check_init(bias_init, "bias_init")
    features, n_features = _lenet5_features(in_channels, input_size, padding, act, POOLINGS[pooling],
                                            init, bias_init, dtype)
    hidden = (120, 84) if variant == "classic" else (84,)
    head = mlp_layers([n_features, *hidden, n_classes], activation=activation, dropout=dropout,
                      init=init, bias_init=bias_init, dtype=dtype)
    return Sequential(features + head, loss="softmax_cross_entropy", optimizer=optimizer,
                      weight_regularizer=weight_regularizer, seed=seed, dtype=dtype)
