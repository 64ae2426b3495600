"""The faithful recipes (the classic experiments as published): each encodes its original's
setup in the built models, and each runs in a shortened form (fewer epochs and seeds,
smaller subsets where the recipe allows). Their full-length figures are in
docs/reproductions.md."""
import math
import runpy
from pathlib import Path

import numpy as np
import pytest

from proxnet.layers import Conv2D, Dropout, Softmax
from proxnet.studies.config import load_recipe, validate
from proxnet.studies.report import summarize
from proxnet.studies.runner import run_study
from proxnet.studies.trial import build_model, load_data

FAITHFUL = ["cs231n-sigmoid-vs-relu", "curve-fit-fixed", "keras-lenet5-1k", "nnfs-spiral", "torch-mnist-1k"]
MNIST = {"cs231n-sigmoid-vs-relu", "keras-lenet5-1k", "torch-mnist-1k"}
TABLES = runpy.run_path(str(Path(__file__).resolve().parents[2] / "benchmarks" / "reproductions.py"),
                        run_name="reproductions")

SHORT = {   # epochs, and dataset options replacing the recipe's (a smaller subset)
    "cs231n-sigmoid-vs-relu": (2, {"subset": "first", "n_train": 2000, "n_test": 1000, "val_size": 1000,
                                   "scale": False}),
    "keras-lenet5-1k": (1, {"n_train": 200, "n_test": 500, "val_size": 200}),
    "torch-mnist-1k": (2, {"n_train": 300, "n_test": 300, "val_size": 300}),
    "nnfs-spiral": (20, {"n_per_class": 200, "n_val": 100}),
    "curve-fit-fixed": (30, {}),
}


def shortened(name: str):
    epochs, options = SHORT[name]
    data = load_recipe(name).with_overrides(seeds=1, epochs=epochs).model_dump()
    data["datasets"][0]["options"].update(options)
    return validate(data, name)


def first_model(study, method, strength=None):
    t = next(t for t in study.trials() if t.method == method and (strength is None or t.strength == strength))
    return t.config, build_model(t.config, load_data(t.config["dataset"], t.config["model"]["dtype"]), 0)


@pytest.mark.parametrize("name", FAITHFUL)
def test_faithful_recipe_runs_shortened(tmp_path, name, request):
    if name in MNIST:
        request.getfixturevalue("mnist_dir")
    study = shortened(name)
    run = run_study(study, tmp_path / name, jobs=2, progress=False)
    assert run.counts == {"done": len(study.trials())}, run.counts
    rows = summarize(tmp_path / name)
    head = rows[0]["headline"]
    values = [r[f"{head}_mean"] for r in rows]
    assert len(rows) == len({(t.method, t.strength) for t in study.trials()})
    assert all(isinstance(v, float) and math.isfinite(v) for v in values), values
    if name == "cs231n-sigmoid-vs-relu":     # raw pixels, N(0, 0.1²) and lr 1e-3 do learn
        assert {r["method"]: r[f"{head}_mean"] for r in rows}["relu"] > 0.5, rows
    check_table(name, tmp_path / name, rows)


def check_table(name, study_dir, rows):
    """benchmarks/reproductions.py (the docs page's tables): a row per grid point and figure,
    each published figure in it, and the summary's headline means (n = 1 here)."""
    from proxnet.studies.report import write_report
    write_report(study_dir)
    text = TABLES["table"](name, study_dir)
    lines = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(lines) == len(rows) * len(TABLES["METRICS"][name]), text
    for (method, strength, metric), value in TABLES["PUBLISHED"][name].items():
        mark = f"| {method} | {'–' if strength is None else f'{strength:g}'} | {TABLES['LABELS'][metric]}"
        row = next(line for line in lines if line.startswith(mark))
        assert f"| {100 * value:.2f} |" in row, (row, value)
    head = rows[0]["headline"]
    if head in TABLES["METRICS"][name]:
        for r in rows:
            value = r[f"{head}_mean"]
            shown = f"{100 * value:.2f} (n = 1)" if head in TABLES["PERCENT"] else f"{value:.4g} (n = 1)"
            assert any(shown in line and line.startswith(f"| {r['method']} |") for line in lines), (shown, text)


def test_every_faithful_recipe_has_three_seeds_and_says_where_it_differs():
    for name in FAITHFUL:
        study = load_recipe(name)
        assert len(study.seeds) >= 3, name
        assert "Where it differs from the published run" in study.description, name
        assert "docs/reproductions.md" in study.description, name


def test_cs231n_recipe_builds_the_published_setup(mnist_dir):
    study = shortened("cs231n-sigmoid-vs-relu")
    for act in ("sigmoid", "relu"):
        cfg, model = first_model(study, act)
        assert cfg["dataset"]["options"]["scale"] is False and cfg["regularizer"]["lam"] == 0.5
        assert not cfg["regularizer"]["include_biases"]
        w = [layer.params["W"] for layer in model.layers if "W" in layer.params]
        assert [x.shape for x in w] == [(784, 64), (64, 10)]
        assert all(abs(x.std() - 0.1) < 0.01 for x in w)
        opt = model.optimizer.get_config()
        assert opt["lr"] == 1e-3 and opt["schedule"] == {"kind": "exponential", "decay": 0.95}
    assert load_recipe("cs231n-sigmoid-vs-relu").datasets[0].options["subset"] == "validation"


def test_keras_lenet5_recipe_builds_the_published_setup(mnist_dir):
    cfg, model = first_model(shortened("keras-lenet5-1k"), "none")
    assert [c.padding for c in model.layers if isinstance(c, Conv2D)] == [(0, 0), (0, 0)]
    dense = [layer for layer in model.layers if "W" in layer.params and layer.params["W"].ndim == 2]
    assert [d.params["W"].shape for d in dense] == [(256, 84), (84, 10)]
    opt = model.optimizer.get_config()
    assert (opt["rule"], opt["alpha"], opt["eps"]) == ("rmsprop", 0.9, 1e-7)
    regs = {m.name: (m.regularizer, m.strengths, m.layers) for m in load_recipe("keras-lenet5-1k").methods}
    assert regs["l2-last"] == ("l2", [0.4], "last") and regs["l1-last"] == ("l1", [0.1], "last")


def test_torch_mnist_recipe_builds_the_published_setup(mnist_dir):
    study = shortened("torch-mnist-1k")
    cfg, model = first_model(study, "mse")
    assert isinstance(model.layers[-1], Softmax) and cfg["model"]["loss"] == "mse"
    for layer in (x for x in model.layers if "W" in x.params):
        bound = 1 / np.sqrt(layer.params["W"].shape[0])
        assert np.abs(layer.params["b"]).max() <= bound and layer.params["b"].any()
    _, drop = first_model(study, "dropout", 0.5)
    assert [d.rate for d in drop.layers if isinstance(d, Dropout)] == [0.5] * 3
    l2 = next(m for m in study.methods if m.name == "l2")
    assert l2.include_biases and l2.strengths == [2 * lam for lam in (0.001, 0.01, 0.1)]


def test_nnfs_spiral_recipe_builds_the_published_setup():
    study = load_recipe("nnfs-spiral")
    cfg, model = first_model(study, "l2-first")
    data = load_data(cfg["dataset"], "float32")
    assert data.X_train.shape == (3000, 2) and data.X_test.shape == (3000, 2)
    assert cfg["regularizer"] == {"kind": "l2", "lam": 1e-3, "mode": "penalty", "layers": "first",
                                  "include_biases": True}
    opt = model.optimizer.get_config()
    assert (opt["lr"], opt["momentum"]) == (1.0, 0.5) and cfg["training"]["batch_size"] == 0
    assert abs(model.layers[0].params["W"].std() - 0.01) < 0.002


def test_curve_fit_fixed_recipe_uses_the_fixed_points_and_the_hundredths_noise():
    study = load_recipe("curve-fit-fixed")
    cfg = {t.method.split("/")[0]: t.config for t in study.trials()}
    six = load_data(cfg["fixed-6"]["dataset"], "float64")
    assert np.allclose(six.X_train.ravel(), [0, .2, .4, .6, .8, 1])
    quad = load_data(cfg["quadratic"]["dataset"], "float64")
    noise = (quad.y_train - quad.X_train ** 2).ravel() * 100
    k = np.round(noise)
    assert np.allclose(noise, k, atol=1e-6) and k.min() == -10 and k.max() == 9
    assert quad.X_test.min() == 1.0 and quad.X_test.max() == 2.0
    assert np.allclose(quad.y_test, quad.X_test ** 2)


def test_reproductions_page_has_a_table_per_faithful_recipe_with_its_published_figures():
    import re
    page = (Path(__file__).resolve().parents[2] / "docs" / "reproductions.md").read_text(encoding="utf-8")
    assert set(TABLES["PUBLISHED"]) == set(FAITHFUL)
    for name in FAITHFUL:
        block = re.search(rf"<!-- table:{re.escape(name)} -->\n(.*?)<!-- /table -->", page, re.S)
        assert block, name
        assert f"proxnet study {name}" in page or f"`{name}`" in page
        for (method, strength, metric), value in TABLES["PUBLISHED"][name].items():
            mark = f"| {method} | {'–' if strength is None else f'{strength:g}'} | {TABLES['LABELS'][metric]}"
            row = next((line for line in block.group(1).splitlines() if line.startswith(mark)), None)
            assert row is not None and f"| {100 * value:.2f} |" in row, (name, mark)
