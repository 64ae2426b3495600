"""The README stays true: its quickstart runs as written; its commands exist."""
import re
import subprocess
import sys

from .conftest import REPO

README = (REPO / "README.md").read_text()


def test_quickstart_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no python block"
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "accuracy" in out and "exact zeros in layer 0" in out
    assert (tmp_path / "digits.npz").exists()


def test_readme_commands_match_ci():
    bash = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    test_cmd = bash[1].strip()
    assert test_cmd in (REPO / ".ci" / "run").read_text()
    assert "proxnet study digits-quick" in bash[0]


def test_cli_help_and_version():
    out = subprocess.run([sys.executable, "-m", "proxnet.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "gradcheck" in out.stdout
    out = subprocess.run([sys.executable, "-m", "proxnet.cli", "--version"], capture_output=True, text=True)
    import proxnet
    assert out.returncode == 0 and proxnet.__version__ in out.stdout
