"""The gradcheck module and `proxnet gradcheck`."""
import numpy as np
import pytest
from click.testing import CliRunner

from proxnet import gradcheck
from proxnet.cli import main
from proxnet.layers import Dense, ReLU


def test_rel_error():
    assert gradcheck.rel_error(np.ones(3), np.ones(3)) == 0
    assert gradcheck.rel_error([1.0, 0.0], [1.0, 1e-12]) <= 1e-6  # judged on the array scale
    assert gradcheck.rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    with pytest.raises(ValueError, match="shapes"):
        gradcheck.rel_error(np.ones(2), np.ones(3))


def test_numerical_gradient_restores_input():
    x = np.array([1.0, 2.0, 3.0])
    g = gradcheck.numerical_gradient(lambda: float(np.sum(x ** 2)), x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_check_detects_a_wrong_backward(rng):
    class BrokenReLU(ReLU):
        def backward(self, dout):
            return dout  # wrong: ignores the mask
    assert gradcheck.check_layer(BrokenReLU(), rng.normal(size=(5, 4)))["x"] > 1e-2
    d = Dense(4, 3, seed=0)
    assert max(gradcheck.check_layer(d, rng.normal(size=(5, 4))).values()) < 1e-6


def test_check_all_and_cli():
    rows = gradcheck.check_all()
    kinds = {r["kind"] for r in rows}
    assert {"activation", "layer", "loss", "regularizer", "model"} <= kinds
    assert all(r["passed"] for r in rows), gradcheck.format_table(rows)
    res = CliRunner().invoke(main, ["gradcheck"])
    assert res.exit_code == 0, res.output
    assert "0 failed" in res.output


def test_cli_gradcheck_exits_nonzero_on_failure(monkeypatch):
    def fake(seed=0):
        return [{"kind": "layer", "name": "Broken", "max_rel_error": 1.0, "tolerance": 1e-6, "passed": False}]
    monkeypatch.setattr(gradcheck, "check_all", fake)
    res = CliRunner().invoke(main, ["gradcheck"])
    assert res.exit_code == 1 and "FAIL" in res.output


def test_a_registered_layer_without_an_example_fails_instead_of_being_skipped(monkeypatch):
    from proxnet.layers import LAYERS, Layer

    class Unchecked(Layer):
        pass

    monkeypatch.setitem(LAYERS, "unchecked", Unchecked)
    rows = gradcheck.check_all()
    failed = [r for r in rows if not r["passed"]]
    assert [r["name"] for r in failed] == ["Unchecked (no example in gradcheck._layer_examples)"]
