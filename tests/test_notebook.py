"""The README's notebook cells, executed in a real Jupyter kernel (nbclient): they run without
errors and display what the README says (the model's parameter count, the history, a plot,
the notebook progress bars of fit and run, the study's verdict rows, the comparisons)."""
import os
import re

import pytest

from .conftest import REPO

nbformat = pytest.importorskip("nbformat", reason="nbformat (the test extra) not installed")
nbclient = pytest.importorskip("nbclient", reason="nbclient (the test extra) not installed")
pytest.importorskip("ipykernel", reason="ipykernel (the test extra) not installed")
pytest.importorskip("ipywidgets", reason="ipywidgets (the test extra) not installed")
pytest.importorskip("matplotlib", reason="matplotlib (the lab extra) not installed")

WIDGET = "application/vnd.jupyter.widget-view+json"
# the values the test reads back from the kernel, computed there (never typed here)
CHECK = ("n_params = sum(p.size for _, p in model.named_parameters())\n"
         "print('N_PARAMS', n_params, 'TRIALS', len(study.trials()), study.last_run.complete)")


def readme_cells() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## In a notebook", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    cells = [c.strip() for c in re.split(r"^# %%.*$", block, flags=re.M)]
    return [c for c in cells if c]


def _outputs(cell, mime):
    return [o["data"][mime] for o in cell.outputs if "data" in o and mime in o["data"]]


@pytest.mark.slow
def test_readme_notebook_runs_and_displays(tmp_path, monkeypatch):
    cells = readme_cells()
    assert len(cells) == 5
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells + [CHECK]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("MPLBACKEND", raising=False)        # the kernel's inline backend draws PNGs
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()                                       # raises CellExecutionError on any error
    fit, hist, plots, study, comps, check = nb.cells
    errors = [o for c in nb.cells for o in c.outputs if o["output_type"] == "error"]
    assert not errors
    printed = "".join(o.get("text", "") for o in check.outputs)
    n_params, n_trials = map(int, re.search(r"N_PARAMS (\d+) TRIALS (\d+) True", printed).groups())
    (model_html,) = _outputs(fit, "text/html")
    assert f"{n_params:,}" in model_html and "Dense 64→32" in model_html
    assert _outputs(fit, WIDGET), "fit drew no notebook progress bar"
    assert "History: 10 epochs" in _outputs(hist, "text/html")[0]
    assert len(_outputs(plots, "image/png")) == 2          # the history and the weights
    assert _outputs(study, WIDGET), "run drew no notebook progress bar"
    (study_html,) = _outputs(study, "text/html")
    assert study_html.index("id='verdict'") < study_html.index("id='summary'")
    assert study_html.count("class='verdict'") == len(re.findall(r"data-verdict='[a-z ]+'", study_html)) >= 4
    assert f"trials: {n_trials} done" in study_html
    (comp_html,) = _outputs(comps, "text/html")
    assert "diff_mean" in comp_html and re.search(r"better|worse|no detectable difference", comp_html)
    assert (tmp_path / "runs" / "digits-quick-3ep" / "study.db").is_file()
