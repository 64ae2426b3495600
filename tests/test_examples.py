"""The examples run (in a shortened form)."""
import runpy
import sys

from .conftest import REPO


def test_sparsity_example_short(mnist_dir, capsys):
    sys.path.insert(0, str(REPO / "examples"))
    try:
        mod = runpy.run_path(str(REPO / "examples" / "sparsity_mnist1k.py"), run_name="example")
        rows = mod["main"](["--seeds", "1", "--epochs", "2"])
    finally:
        sys.path.remove(str(REPO / "examples"))
    assert {r["method"] for r in rows} == {"none", "prox-l1", "penalty-l1", "group-lasso"}
    assert all(r["same_predictions"] for r in rows)
    prox = next(r for r in rows if r["method"] == "prox-l1")
    assert prox["zeros_first"] > 0  # exact zeros after only two epochs
    assert "λ(L1, all weights) = 0.28" in capsys.readouterr().out


def test_lenet5_example_short(mnist_dir, capsys):
    res = runpy.run_path(str(REPO / "examples" / "lenet5_mnist.py"), run_name="example")["main"](
        ["--epochs", "1", "--limit", "2000"])
    assert len(res["history"]["epoch"]) == 1
    assert res["test_accuracy"] > 0.5            # 2,000 images, one epoch: well above chance
    out = capsys.readouterr().out
    assert "LeNet-5 (classic, 61,706 parameters) on 2,000 MNIST images" in out
    assert "test accuracy" in out
