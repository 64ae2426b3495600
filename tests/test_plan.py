"""The execution plan's rewrites change nothing but speed: ReLU → MaxPool2D run fused gives
the same weights, bit for bit, as layer by layer, on 1 and 2 threads, in float32 and float64."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from proxnet.architectures import lenet5
from proxnet.layers import Conv2D, Flatten, MaxPool2D, ReLU, Tanh, Dense
from proxnet.training import plan, shards


def _train(fuse, dtype, threads, monkeypatch):
    monkeypatch.setattr(plan, "FUSE", fuse)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 1, 28, 28)).astype(dtype)
    X[:, :, ::3] = 0.0                                     # ties and all-zero windows
    X[:8] = -np.abs(X[:8])                                 # all-negative inputs
    y = rng.integers(0, 10, 96)
    model = lenet5(variant="compact", seed=1, dtype=dtype, optimizer={"kind": "adam", "lr": 1e-2})
    with threadpool_limits(threads):
        h = model.fit(X, y, epochs=2, batch_size=64, seed=0, verbose=False)
        out = model.predict_proba(X)
    return [v.tobytes() for _, v in model.named_parameters()], h["data_loss"], out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_relu_max_pool_trains_bit_identically(dtype, monkeypatch):
    ref = _train(False, dtype, 1, monkeypatch)
    for threads in (1, 2):
        got = _train(True, dtype, threads, monkeypatch)
        assert got[0] == ref[0] and got[1] == ref[1]
        np.testing.assert_array_equal(got[2], ref[2])


def test_the_plan_fuses_exactly_the_pattern_and_keeps_parameter_layers():
    layers = [Conv2D(1, 2, 3), ReLU(), MaxPool2D(2), Conv2D(2, 2, 3), Tanh(), MaxPool2D(2), Flatten(),
              Dense(2, 2), ReLU()]
    units = plan.execution_plan(layers)
    assert [type(u).__name__ for u in units] == ["Conv2D", "ReLUMaxPool", "Conv2D", "Tanh", "MaxPool2D",
                                                 "Flatten", "Dense", "ReLU"]
    assert units[0] is layers[0] and units[2] is layers[3] and units[6] is layers[7]
    assert units[1].output_shape((2, 6, 6)) == (2, 3, 3)


def test_training_runs_the_fused_unit(monkeypatch):
    model = lenet5(variant="compact", seed=0)
    used = shards.Shards(model.layers, (1, 28, 28), 4, 64)
    assert any(isinstance(u, plan.ReLUMaxPool) for u in used.layers)
    assert all(any(u is layer for u in used.layers) for layer in model.layers if layer.params)
    monkeypatch.setattr(plan, "FUSE", False)
    assert shards.Shards(model.layers, (1, 28, 28), 4, 64).layers == model.layers
