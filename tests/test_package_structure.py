"""The shape of the package: no import cycles, no unexplained imports inside functions, a
NumPy-only core, and no function outside proxnet/functional/ longer than 60 lines of code."""
import ast
import subprocess
import sys
import textwrap

from .conftest import REPO

PACKAGE = REPO / "proxnet"
MAX_LINES = 60


def _modules():
    """{module name: path} of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(module, node, modules):
    """The proxnet modules an import statement in ``module`` refers to."""
    is_pkg = modules[module].name == "__init__.py"
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "proxnet"]
    base = node.module or ""
    if node.level:
        parent = module.split(".") if is_pkg else module.split(".")[:-1]
        parent = parent[:len(parent) - node.level + 1]
        base = ".".join(parent + ([base] if base else []))
    if base.split(".")[0] != "proxnet":
        return []
    found = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.append(sub if sub in modules else base)
    return [m for m in found if m in modules]


def _imports():
    """[(module, target, lineno, inside a function, source line)] for every proxnet import."""
    modules = _modules()
    rows = []
    for module, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        funcs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inner = {id(n) for f in funcs for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(module, node, modules):
                    rows.append((module, target, node.lineno, id(node) in inner, lines[node.lineno - 1]))
    return rows


def _cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def _is_package_of(a, b):
    return b.startswith(a + ".")


def test_no_import_cycles():
    # A package importing its own submodules (its __init__ re-exporting them) is not a cycle.
    edges = [(a, b) for a, b, *_ in _imports() if a != b and not _is_package_of(a, b)]
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]


def test_imports_inside_functions_say_why():
    unexplained = sorted({f"{m}:{line}: {text.strip()}" for m, _, line, inner, text in _imports()
                          if inner and "#" not in text})
    assert unexplained == []


def test_the_core_imports_numpy_and_the_standard_library_only(tmp_path):
    """Training and saving a model loads nothing beyond what a bare interpreter with NumPy
    already has, the standard library, proxnet and threadpoolctl."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        np.random.default_rng(0).normal(size=3)
        before = {name.split(".")[0] for name in sys.modules}
        import proxnet
        from proxnet import Sequential
        from proxnet.layers import Dense, Dropout, ReLU
        X = np.random.default_rng(0).normal(size=(600, 8)); y = (X[:, 0] > 0).astype(int)
        m = Sequential([Dense(8, 512), ReLU(), Dropout(0.1), Dense(512, 2)], seed=0)
        m.fit(X, y, epochs=2, batch_size=300, validation_data=(X, y), seed=0, verbose=False)
        proxnet.save(m, sys.argv[1]); proxnet.load(sys.argv[1]).predict(X)
        after = {name.split(".")[0] for name in sys.modules}
        print(" ".join(sorted(after - before - set(sys.stdlib_module_names))))
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.npz")], capture_output=True,
                         text=True, check=True, cwd=REPO).stdout.split()
    assert set(out) <= {"proxnet", "threadpoolctl"}, out


def _code_lines(node, lines):
    """Lines of code of a function: not blank, not a comment, not its docstring."""
    doc = set()
    body = node.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        doc = set(range(first.lineno, first.end_lineno + 1))
    count = 0
    for n in range(node.lineno, node.end_lineno + 1):
        text = lines[n - 1].strip()
        if text and not text.startswith("#") and n not in doc:
            count += 1
    return count


def test_no_function_outside_functional_is_longer_than_60_lines():
    long = []
    for module, path in _modules().items():
        if module.startswith("proxnet.functional"):
            continue
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = _code_lines(node, lines)
                if n > MAX_LINES:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert long == []
