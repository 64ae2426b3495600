"""docs/guide.md's model, training, callback and checkpoint sections stay true: their python
blocks run as written, in order, in one namespace (in a temporary folder)."""
import re

from .conftest import REPO


def test_model_training_callbacks_and_checkpoint_blocks_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = (REPO / "docs" / "guide.md").read_text()
    section = text[text.index("## Sequential: the model"):text.index("## Threads and shards")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 4
    namespace = {"__name__": "__doc__"}
    for block in blocks:
        exec(compile(block, "guide.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "20 20" in out and "12 [4, 8, 12]" in out
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.npz")) == ["ckpt-021.npz", "ckpt-022.npz", "ckpt-023.npz"]
    assert (tmp_path / "train-log.csv").read_text().count("\n") == 4
