"""docs/convolution.md stays true: its python blocks run as written (the builders' doctests: tests/test_doctests.py)."""
import re

from .conftest import REPO


def test_convolution_doc_blocks_run(capsys):
    text = (REPO / "docs" / "convolution.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 4
    for block in blocks:
        exec(compile(block, "convolution.md", "exec"), {"__name__": "__doc__"})
    assert "filters are exactly zero" in capsys.readouterr().out


def test_convolution_doc_names_real_commands():
    text = (REPO / "docs" / "convolution.md").read_text()
    for path in ("examples/lenet5_mnist.py", "benchmarks/bench_lenet.py", "benchmarks/ab_step.py"):
        assert path in text and (REPO / path).exists()
