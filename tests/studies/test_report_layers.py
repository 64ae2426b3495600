"""The report's modules form layers: no import cycle among proxnet.studies' modules, and the
report side holds no SQL (the read-side SQL lives in store.py, with the schema)."""
import ast
from pathlib import Path

STUDIES = Path(__file__).resolve().parents[2] / "proxnet" / "studies"
REPORT_SIDE = ("results", "analysis", "formats", "figures", "plots", "text", "html", "report",
               "stats")


def imports(path: Path) -> set[str]:
    """The proxnet.studies modules a module imports (relative imports, any depth)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_no_import_cycle():
    graph = {p.stem: imports(p) & {q.stem for q in STUDIES.glob("*.py")}
             for p in STUDIES.glob("*.py")}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", f"import cycle: {' -> '.join(path + [m])}"
        state[m] = "open"
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = "done"

    for m in graph:
        visit(m, [])
    assert "store" in graph["results"]
    # the top: the Python API (api.py, exported by __init__) over the report and the runner
    assert {m for m, deps in graph.items() if "report" in deps} == {"api"}
    assert {m for m, deps in graph.items() if "api" in deps} == {"__init__"}


def test_sql_lives_with_the_schema():
    for name in REPORT_SIDE:
        text = (STUDIES / f"{name}.py").read_text(encoding="utf-8")
        for word in ("SELECT ", "sqlite3", "FROM trial", "FROM epoch_metric", "FROM artifact"):
            assert word not in text, (name, word)
