"""docs/guide.md's Layers section (layers, Softmax, initializers) stays true: its python
blocks run as written."""
import re

from .conftest import REPO


def test_layers_section_blocks_run():
    text = (REPO / "docs" / "guide.md").read_text()
    section = text[text.index("## Layers"):text.index("## Losses")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "guide.md", "exec"), {"__name__": "__doc__"})
