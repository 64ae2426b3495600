"""proxnet.plotting: the diagnostic pictures of a model trained anywhere, and the proof that the
study report draws its model pictures with the same drawers (one home)."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib (the lab extra) not installed")
matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from proxnet import diagnostics, plotting  # noqa: E402
from proxnet.architectures import mlp  # noqa: E402
from proxnet.data import load_dataset  # noqa: E402


def _ax():
    return Figure().add_subplot()


@pytest.fixture(scope="module")
def digits_model():
    data = load_dataset("digits")
    model = mlp([64, 12, 10], seed=0)
    history = model.fit(*data.train, epochs=2, seed=0, verbose=False)
    return model, history


def test_plot_weights_draws_each_unit_scaled_to_its_largest_weight(digits_model):
    model, _ = digits_model
    W = model.layers[0].params["W"].copy()
    ax = plotting.plot_weights(model, ax=_ax(), per_row=5)
    mosaic = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    gap = 1
    for j in range(12):
        r, c = divmod(j, 5)
        tile = mosaic[r * 9:r * 9 + 8, c * 9:c * 9 + 8]
        np.testing.assert_allclose(tile, W[:, j].reshape(8, 8) / np.abs(W[:, j]).max(), rtol=1e-6)
    assert mosaic.shape == (3 * 9 - gap, 5 * 9 - gap)
    assert "12 of 12 units" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["units 0–4", "units 5–9", "units 10–11"]


def test_plot_weights_marks_dead_units_and_limits_units(digits_model):
    model, _ = digits_model
    W0 = model.layers[0].params["W"]
    saved = W0.copy()
    try:
        W0[:, 3] = 0.0
        ax = plotting.plot_weights(model, ax=_ax(), max_units=4)
    finally:
        W0[...] = saved
    assert [t.get_text() for t in ax.texts] == ["dead"]
    assert "4 of 12 units" in ax.get_title()
    mosaic = np.ma.filled(ax.images[0].get_array().astype(float), np.nan)
    assert np.isnan(mosaic[:, 27:35]).all()            # the dead tile is drawn as a grey patch


def test_plot_weights_hostile_arguments(digits_model):
    model, _ = digits_model
    with pytest.raises(ValueError, match="image_shape"):
        plotting.plot_weights(model, ax=_ax(), image_shape=(7, 9))
    with pytest.raises(ValueError, match="max_units"):
        plotting.plot_weights(model, ax=_ax(), max_units=0)
    with pytest.raises(ValueError, match="per_row"):
        plotting.plot_weights(model, ax=_ax(), per_row=True)
    with pytest.raises(TypeError, match="model"):
        plotting.plot_weights("not a model")
    with pytest.raises(TypeError, match="ax"):
        plotting.plot_weights(model, ax=object())
    odd = mlp([5, 3, 2], seed=0)
    with pytest.raises(ValueError, match="not a square image"):
        plotting.plot_weights(odd, ax=_ax())
    assert plotting.plot_weights(odd, ax=_ax(), image_shape=(1, 5)).images


def test_plot_grad_norms_draws_history_per_step(digits_model):
    _, history = digits_model
    ax = _ax()
    assert plotting.plot_grad_norms(history, ax=ax) is ax
    (line,) = ax.get_lines()
    x, y = line.get_data()
    want = np.asarray(history.grad_norms["0.W"], dtype=float)
    np.testing.assert_array_equal(x, np.arange(1, want.size + 1))
    np.testing.assert_allclose(y, want)
    assert ax.get_yscale() == "log" and line.get_label() == "0.W"
    ax = plotting.plot_grad_norms(history, ax=_ax(), names=["0.W", "2.W"], max_points=5)
    assert [ln.get_label() for ln in ax.get_lines()] == ["0.W", "2.W"]
    assert all(ln.get_xdata().size <= 5 for ln in ax.get_lines())
    with pytest.raises(ValueError, match="'9.W'"):
        plotting.plot_grad_norms(history, ax=_ax(), names="9.W")
    with pytest.raises(TypeError, match="history"):
        plotting.plot_grad_norms({"0.W": [1.0]}, ax=_ax())


def test_thin_averages_blocks():
    x, y = plotting.thin(np.arange(10), np.arange(10) * 2.0, max_points=4)
    np.testing.assert_allclose(x, [1, 4, 7])
    np.testing.assert_allclose(y, [2, 8, 14])
    x, = plotting.thin([1, 2, 3], max_points=None)
    np.testing.assert_array_equal(x, [1, 2, 3])


def test_plot_decision_boundary_shades_the_models_predictions():
    data = load_dataset("spiral")
    X, y = data.train
    model = mlp([2, 16, 3], seed=0)
    model.fit(X, y, epochs=3, seed=0, verbose=False)
    ax = plotting.plot_decision_boundary(model, X, y, ax=_ax(), resolution=30)
    grid, extent = diagnostics.decision_grid(model, X, resolution=30)
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), grid)
    np.testing.assert_allclose(ax.images[0].get_extent(), extent)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), X)
    with pytest.raises(ValueError, match="X: expected 2-D inputs"):
        plotting.plot_decision_boundary(model, np.zeros((4, 3)), ax=_ax())
    with pytest.raises(ValueError, match="resolution"):
        plotting.plot_decision_boundary(model, X, ax=_ax(), resolution=10**6)


def test_plot_fitted_curve_draws_model_predictions_and_points():
    data = load_dataset("quadratic")
    X, Y = data.train
    model = mlp([1, 8, 1], seed=0, loss="mse")
    model.fit(X, Y, epochs=3, seed=0, verbose=False)
    ax = plotting.plot_fitted_curve(model, X, Y, ax=_ax(), points=50)
    (line,) = ax.get_lines()
    x, fx = line.get_data()
    np.testing.assert_allclose(x, np.linspace(X.min(), X.max(), 50), rtol=1e-6)
    np.testing.assert_allclose(fx, model.predict(x.reshape(-1, 1).astype(X.dtype))[:, 0], rtol=1e-6)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[X.ravel(), Y.ravel()])
    ax = plotting.plot_fitted_curve(model, X, ax=_ax())
    assert not ax.collections                          # no points without targets
    with pytest.raises(ValueError, match="points"):
        plotting.plot_fitted_curve(model, X, ax=_ax(), points=1)


def test_new_axes_when_none_given(digits_model):
    import matplotlib.pyplot as plt
    model, history = digits_model
    try:
        ax = plotting.plot_grad_norms(history)
        assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    finally:
        plt.close("all")


def test_report_draws_model_pictures_with_the_public_drawers(monkeypatch):
    """One home: the report's layouts call proxnet.plotting's drawers, panel by panel."""
    from proxnet.studies import plots
    calls = []
    for name in ("draw_weight_grid", "draw_grad_norms", "draw_decision_boundary", "draw_fitted_curves"):
        real = getattr(plotting, name)
        monkeypatch.setattr(plotting, name, lambda *a, _n=name, _r=real, **k: (calls.append(_n), _r(*a, **k))[1])
    rng = np.random.default_rng(0)
    plots.weight_grid([("l1 λ=0.1", 0, rng.normal(size=(64, 5)))], side=8)
    plots.grad_norms([{"method": "l2", "strength": 0.1, "steps": np.arange(1, 6.0), "norms": rng.random(5) + 1}])
    grid = rng.integers(0, 3, size=(10, 10))
    plots.decision_boundaries([{"label": "l2 λ=0.1", "method": "l2", "seed": 0, "grid": grid,
                                "extent": [0, 1, 0, 1], "X": rng.random((5, 2)), "y": np.arange(5) % 3},
                               {"label": "l2 λ=1", "method": "l2", "seed": 0, "grid": grid,
                                "extent": [0, 1, 0, 1], "X": None, "y": None}])
    plots.fitted_curves([{"method": "l2", "strength": 0.1, "seed": 0, "x": np.arange(4.0), "y": np.arange(4.0),
                          "X": np.arange(3.0), "Y": np.arange(3.0)}])
    assert calls == ["draw_weight_grid", "draw_grad_norms", "draw_decision_boundary",
                     "draw_decision_boundary", "draw_fitted_curves"]
