"""Rich displays: Sequential, History and Splits render as HTML in Jupyter (``_repr_html_``)
and as readable text; History plots and exports."""
import builtins

import numpy as np
import pytest

from proxnet.architectures import lenet5, mlp
from proxnet.data import load_dataset
from proxnet.display import sparkline_svg, table_html, table_text
from proxnet.regularizers import L1


@pytest.fixture(scope="module")
def trained():
    data = load_dataset("digits", val_size=200)
    model = mlp([64, 32, 10], dropout=0.1, weight_regularizer=L1(1e-3, mode="prox"), seed=0)
    history = model.fit(*data.train, epochs=3, validation_data=data.val, seed=0, verbose=False)
    return data, model, history


def test_sequential_summary_and_html_show_layers_shapes_params_and_regularizers(trained, capsys):
    _, model, _ = trained
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    assert "Dense 64→32" in text and "(32,)" in text and "2,080" in text
    assert "W: L1(lam=0.001, mode='prox')" in text and "2,410 parameters" in text
    assert "3 epochs trained" in text
    html = model._repr_html_()
    assert html.startswith("<div>") and "<table" in html and "2,410 parameters" in html
    assert "L1(lam=0.001, mode=&#x27;prox&#x27;)" in html
    assert "params=2,410, epochs_done=3" in repr(model)


def test_summary_shapes_come_from_the_input_shape_or_show_unknown():
    net = lenet5(seed=0)
    assert "?" in net.summary() and "(6, 14, 14)" in net.summary((1, 28, 28))


def test_history_html_text_plot_and_exports(trained, monkeypatch):
    _, _, history = trained
    html = history._repr_html_()
    assert "History: 3 epochs" in html and "<svg" in html and "val_accuracy" in html
    assert repr(history).startswith("History(epochs=3, last: loss=")
    ax = history.plot()
    assert [line.get_label() for line in ax.get_lines()] == ["train_accuracy", "val_accuracy"]
    assert history.plot("loss", ax=ax) is ax
    with pytest.raises(ValueError, match="not logged"):
        history.plot("nope")
    d = history.to_dict()
    assert d["history"]["epoch"] == [0, 1, 2] and len(d["grad_norms"]["0.W"]) > 0
    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("no pandas here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="needs pandas"):
        history.to_frame()


def test_history_to_frame_with_pandas(trained):
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    frame = trained[2].to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == [0, 1, 2]


def test_splits_html_counts_every_split(trained):
    data = trained[0]
    html = data._repr_html_()
    for split in ("train", "val", "test"):
        assert f">{split}<" in html
    assert "10 classes" in html and f"{data.X_train.shape[0]:,}" in html


def test_tables_escape_and_sparklines_skip_non_finite():
    assert "&lt;b&gt;" in table_html(["a"], [["<b>"]])
    assert table_text(["x", "yy"], [[1, 2]]).splitlines()[1] == "-  --"
    svg = sparkline_svg({"loss": [3.0, float("nan"), 1.0]})
    assert svg.count("<polyline") == 1 and "nan" not in svg
    assert sparkline_svg({"loss": [1.0]}) == ""


from proxnet.training.callbacks import progress_bar_class as _REAL_BAR_CLASS  # noqa: E402


class _FakeShell:
    kernel = object()


def _pretend_notebook(monkeypatch):
    import sys
    import types
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: _FakeShell()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))


def _bars_used(monkeypatch, **fit_kwargs):
    """The progress-bar classes ``fit`` drew with."""
    from proxnet.training import callbacks
    used = []
    real = _REAL_BAR_CLASS

    class Quiet:     # stands in for the chosen bar (a widget needs a live kernel to draw)
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def set_postfix(self, *args, **kwargs): ...

        def update(self, n): ...

        def close(self): ...

    def spy():
        used.append(real())
        return Quiet

    monkeypatch.setattr(callbacks, "progress_bar_class", spy)
    X = np.random.default_rng(0).normal(size=(20, 4))
    mlp([4, 3], seed=0).fit(X, np.arange(20) % 3, epochs=2, seed=0, **fit_kwargs)
    return used


def test_fit_draws_the_notebook_bar_in_a_kernel_and_none_when_verbose_is_false(monkeypatch):
    pytest.importorskip("ipywidgets", reason="ipywidgets is not installed (the notebook bar needs it)")
    from tqdm.notebook import tqdm as notebook_tqdm
    from tqdm.std import tqdm as text_tqdm
    assert _bars_used(monkeypatch, verbose=True) == [text_tqdm]       # not a notebook
    assert _bars_used(monkeypatch) == []                            # verbose=None, no terminal
    _pretend_notebook(monkeypatch)
    assert _bars_used(monkeypatch) == [notebook_tqdm]               # verbose=None in a kernel
    assert _bars_used(monkeypatch, verbose=False) == []
