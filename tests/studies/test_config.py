"""Strict, complete validation of study configs before anything runs: each case measured on
main (bbae99a) as silently dropped, accepted-then-failing, coerced or crashing now ends in
one ConfigError naming the field; and a hypothesis fuzz test through the loader the CLI
uses (TOML file -> resolve), whose valid draws all run."""
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxnet.studies.config import ConfigError, load_config, resolve, validate


def base(**over) -> dict:
    cfg = {"name": "t", "seeds": 1, "dataset": {"name": "digits"}, "model": {"hidden": [8]},
           "training": {"lr": 0.1, "epochs": 1, "batch_size": 64},
           "methods": [{"name": "none"}]}
    cfg.update(over)
    return cfg


def error(data, source="cfg.toml") -> str:
    with pytest.raises(ConfigError) as exc:
        validate(data, source)
    return str(exc.value)


# ---------------------------------------------------------------- "a method disappears"

@pytest.mark.parametrize("methods, needle", [
    ([{"name": "a"}, {"name": "b"}], "method 'a' and method 'b' are the same trial config"),
    ([{"name": "none"}, {"name": "drop", "dropout": [0.0]}],
     "method 'none' and method 'drop' (rate 0.0) are the same trial config"),
    ([{"name": "none"}, {"name": "ce", "loss": "ce"}], "method 'none' and method 'ce' are the same"),
    ([{"name": "l2", "regularizer": "l2", "strengths": [1e-3, 1e-3]}],
     "methods.0.strengths: 0.001 is listed twice"),
    ([{"name": "x", "regularizer": "l2", "strengths": [1e-3]},
      {"name": "y", "regularizer": "l2", "strengths": [1e-2, 1e-3]}],
     "method 'x' (strength 0.001) and method 'y' (strength 0.001) are the same"),
])
def test_identical_grid_points_are_refused_naming_both(methods, needle):
    msg = error(base(methods=methods))
    assert needle in msg and "methods" in msg, msg


def test_every_grid_point_gets_its_own_trial_key():
    cfg = validate(base(seeds=3, methods=[
        {"name": "none"}, {"name": "drop", "dropout": [0.1, 0.2]},
        {"name": "l1", "regularizer": "l1", "strengths": [1e-3, 1e-2]},
        {"name": "mse", "loss": "mse"}]))
    trials = cfg.trials()
    assert len(trials) == 6 * 3 and len({t.key for t in trials}) == 18
    assert len({(t.method, t.strength) for t in trials}) == 6


# ---------------------------------------------------------------- "the study name is a path"

@pytest.mark.parametrize("name", ["/srv/x", "../../../../y", "..", ".", "a/b", "a\\b", "x..y",
                                  ".hidden", "", "x" * 20_000, "name with space", "ümlaut"])
def test_study_name_must_be_a_plain_slug(name):
    msg = error(base(name=name))
    assert re.search(r"^\s+name: ", msg, re.M), msg
    assert len(msg) < 600


def test_plain_names_are_accepted():
    for name in ("digits-quick", "run_2", "v1.2", "A"):
        assert validate(base(name=name)).name == name


# ---------------------------------------------------------------- strict types, finite numbers, caps

@pytest.mark.parametrize("patch, field", [
    ({"training": {"lr": "0.1"}}, "training.lr"),
    ({"training": {"epochs": True}}, "training.epochs"),
    ({"training": {"epochs": 3.0}}, "training.epochs"),
    ({"training": {"batch_size": "32"}}, "training.batch_size"),
    ({"training": {"nesterov": 1}}, "training.nesterov"),
    ({"seeds": [1500.0]}, "seeds.0"),
    ({"seeds": True}, "seeds"),
    ({"seeds": []}, "seeds"),
    ({"seeds": 10**9}, "seeds"),
    ({"seeds": [-1]}, "seeds.0"),
    ({"seeds": [2**40]}, "seeds.0"),
    ({"seeds": [1, 1]}, "seeds"),
    ({"timeout": math.inf}, "timeout"),
    ({"timeout": math.nan}, "timeout"),
    ({"timeout": 0}, "timeout"),
    ({"checkpoint_every": -1}, "checkpoint_every"),
    ({"training": {"lr": math.inf}}, "training.lr"),
    ({"training": {"epochs": 10**9}}, "training.epochs"),
    ({"model": {"hidden": [10**9]}}, "model.hidden.0"),
    ({"model": {"hidden": [0]}}, "model.hidden.0"),
    ({"model": {"hidden": [8] * 1000}}, "model.hidden"),
    ({"model": {"hidden": [8.0]}}, "model.hidden.0"),
    ({"methods": [{"name": "l", "regularizer": "l2", "strengths": [math.inf]}]}, "methods.0.strengths.0"),
    ({"methods": [{"name": "l", "regularizer": "l2", "strengths": ["1e-3"]}]}, "methods.0.strengths.0"),
    ({"methods": [{"name": "d", "dropout": [1.0]}]}, "methods.0.dropout.0"),
    ({"methods": [{"name": "x" * 20_000}]}, "methods.0.name"),
    ({"methods": [{"name": "a\nb"}]}, "methods.0.name"),
    ({"methods": []}, "methods"),
    ({"description": "x" * 100_000}, "description"),
    ({"dataset": {"name": "digits", "options": {"test_size": math.nan}}}, "datasets.0.options.test_size"),
    ({"dataset": {"name": "digits", "options": {"bogus": 1}}}, "datasets.0.options.bogus"),
    ({"dataset": {"name": "digits", "options": {"dtype": "float64"}}}, "datasets.0.options.dtype"),
    ({"dataset": {"name": "spiral", "options": {"n_per_class": 10**9}}}, "datasets.0.options.n_per_class"),
    ({"dataset": {"name": "spiral", "options": {"n_per_class": "100"}}}, "datasets.0.options.n_per_class"),
    ({"dataset": {"name": "digits", "options": {"seed": [[[[[[1]]]]]]}}}, "datasets.0.options.seed"),
    ({"methods": [{"name": "x", "regularizer": "l2", "strengths": [1e-3], "layers": [99]}]}, "methods.0.layers"),
    ({"training": {"optimizer": "adam", "momentum": 0.9}}, "training"),
    ({"training": {"schedule": {"kind": "exponential", "decay": "0.9"}}}, "training.schedule"),
    ({"model": {"architecture": "lenet5", "init": "bogus"}}, "model.init"),
    ({"model": {"hidden": [8], "padding": "same"}}, "model.padding"),
    ({"training": {"optimizer": "sgd", "betas": [0.9, 0.99]}}, "training"),
    ({"baseline": "nobody"}, "baseline"),
    ({"model": {"architecture": "lenet5", "output_activation": "sigmoid"}}, "model.output_activation"),
    ({"model": {"architecture": "lenet5", "hidden": [10]}}, "model.hidden"),
    ({"model": {"hidden": [8], "variant": "classic"}}, "model.variant"),
    ({"model": {"hidden": [8], "pooling": "avg"}}, "model.pooling"),
    ({"methods": [{"name": "n", "mode": "prox"}]}, "methods.0.mode"),
    ({"methods": [{"name": "n", "l1_ratio": 0.2, "regularizer": "l1", "strengths": [1.0]}]}, "methods.0.l1_ratio"),
])
def test_hostile_values_name_their_field(patch, field):
    msg = error(base(**patch))
    assert re.search(rf"^\s+{re.escape(field)}\b", msg, re.M), msg
    assert len(msg) < 2000


def test_grid_size_is_capped_before_anything_is_built():
    methods = [{"name": f"m{i}", "regularizer": "l2", "strengths": [10.0 ** -(j + 1) * (i + 1) for j in range(100)]}
               for i in range(50)]
    msg = error(base(seeds=1000, methods=methods))
    assert "trials, more than" in msg


def test_not_a_table_and_deep_nesting():
    assert "a study config is a table" in error([1, 2])
    deep = {"a": None}
    for _ in range(100_000):
        deep = {"a": deep}
    assert "nested more than" in error(base(extra=deep))


# ---------------------------------------------------------------- the file loader

def test_toml_file_hostile_bytes(tmp_path):
    p = tmp_path / "c.toml"
    p.write_bytes(b'name = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(p)
    p.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply|nested more than"):
        load_config(p)
    p.write_text("x = 1\n" * 300_000)
    with pytest.raises(ConfigError, match="larger than"):
        load_config(p)
    p.write_text('name = "t"\nname = "u"\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    p.write_text('name = 1979-05-27T07:32:00Z\n[dataset]\nname = "digits"\n[[methods]]\nname = "n"\n')
    msg = str(pytest.raises(ConfigError, load_config, p).value)
    assert "  name: " in msg
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


# ---------------------------------------------------------------- fuzz

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    if v is None:
        return '""'
    raise TypeError(type(v))


def to_toml(cfg: dict) -> str:
    """Top-level keys, [tables] and [[arrays of tables]] for methods; values inline."""
    lines, tables = [], []
    for k, v in cfg.items():
        if k == "methods" and isinstance(v, list) and all(isinstance(m, dict) for m in v):
            for m in v:
                tables.append("[[methods]]\n" + "".join(f"{json.dumps(str(a))} = {_toml_value(b)}\n"
                                                        for a, b in m.items()))
        elif isinstance(v, dict):
            tables.append(f"[{json.dumps(str(k))}]\n" + "".join(f"{json.dumps(str(a))} = {_toml_value(b)}\n"
                                                                 for a, b in v.items()))
        else:
            lines.append(f"{json.dumps(str(k))} = {_toml_value(v)}")
    return "\n".join(lines) + "\n" + "\n".join(tables)


FAST_DATASETS = {"digits": {}, "spiral": {"n_per_class": 30}, "circles": {"n_train": 60},
                 "xor": {"n_train": 60}, "blobs": {"n_train": 60}, "linear-6": {}, "quadratic": {"n_train": 30}}
REGRESSION = {"linear-6", "quadratic"}

hostile = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.text(min_size=5000, max_size=5001, alphabet="x/."),
    st.lists(st.integers(-5, 10**10), max_size=5), st.just("../../etc"), st.just(""),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    st.recursive(st.integers(), lambda c: st.lists(c, max_size=2), max_leaves=40))


@st.composite
def valid_configs(draw):
    name = draw(st.sampled_from(sorted(FAST_DATASETS)))
    regression = name in REGRESSION
    methods = [{"name": "none"}]
    for i in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["l1", "l2", "dropout", "prox-l1", "max_norm", "act"]))
        if kind == "dropout":
            methods.append({"name": f"d{i}", "dropout": draw(st.lists(st.sampled_from([0.1, 0.3, 0.5]),
                                                                       min_size=1, max_size=2, unique=True))})
        elif kind == "act":
            methods.append({"name": f"a{i}", "activation": draw(st.sampled_from(["tanh", "sigmoid"]))})
        elif kind == "max_norm":
            methods.append({"name": f"m{i}", "regularizer": "max_norm", "mode": "prox", "strengths": [3.0]})
        else:
            methods.append({"name": f"r{i}", "regularizer": kind.removeprefix("prox-"),
                            "mode": "prox" if kind.startswith("prox") else "penalty",
                            "strengths": [draw(st.sampled_from([1e-4, 1e-3, 1e-2]))] * 1,
                            "layers": draw(st.sampled_from(["all", "first", "last", [0]]))})
    return {"name": draw(st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True)),
            "seeds": draw(st.integers(1, 3)),
            "dataset": {"name": name, "options": dict(FAST_DATASETS[name])},
            "model": {"hidden": draw(st.lists(st.integers(1, 32), min_size=1, max_size=3)),
                      "activation": draw(st.sampled_from(["relu", "tanh", "leaky_relu"])),
                      "loss": "mse" if regression else draw(st.sampled_from(["ce", "mse"]))},
            "training": {"optimizer": draw(st.sampled_from(["sgd", "adam", "rmsprop"])),
                         "lr": draw(st.sampled_from([0.001, 0.01, 0.05])),
                         "epochs": draw(st.integers(1, 5)), "batch_size": draw(st.sampled_from([0, 16, 64]))},
            "methods": methods}


PATHS = [("name",), ("seeds",), ("timeout",), ("checkpoint_every",), ("description",),
         ("dataset",), ("dataset", "name"), ("dataset", "options"), ("dataset", "options", "seed"),
         ("dataset", "options", "n_train"), ("dataset", "options", "subset"), ("model",),
         ("model", "hidden"), ("model", "activation"), ("model", "architecture"), ("model", "init"),
         ("model", "loss"), ("model", "dtype"), ("training",), ("training", "lr"),
         ("training", "epochs"), ("training", "batch_size"), ("training", "optimizer"),
         ("training", "momentum"), ("training", "schedule"), ("training", "clip_norm"),
         ("methods",), ("methods", 0, "name"), ("methods", -1, "strengths"), ("methods", -1, "dropout"),
         ("methods", -1, "layers"), ("methods", -1, "regularizer"), ("methods", -1, "mode"),
         ("methods", -1, "loss"), ("unknown_field",), ("model", "widths"),
         ("model", "bias_init"), ("model", "padding"), ("model", "output_activation"),
         ("training", "alpha"), ("training", "eps"), ("training", "betas"), ("training", "wd"),
         ("training", "weight_decay"), ("methods", -1, "output_activation"),
         ("methods", -1, "early_stopping"), ("baseline",)]


def _set(cfg, path, value):
    """Put ``value`` at ``path`` where the structure allows it (else leave cfg as is)."""
    node = cfg
    for p in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(p, {})
        elif isinstance(node, list) and node and isinstance(p, int):
            node = node[p]
        else:
            return
    last = path[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and node and isinstance(last, int):
        node[last] = value


@st.composite
def hostile_configs(draw):
    cfg = draw(valid_configs())
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(PATHS))
        _set(cfg, path, draw(hostile))
    methods = cfg.get("methods")
    if isinstance(methods, list) and methods and isinstance(methods[-1], dict) \
            and draw(st.sampled_from([False] * 9 + [True])):   # a copy: identical trial configs
        cfg["methods"] = methods + [dict(methods[-1], name="copy")]
    text = to_toml(cfg)
    if draw(st.sampled_from([False] * 9 + [True])):      # byte-level damage
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["\x00", "[", "\"", "=", "\n[[", "\udcff"])) + text[i:]
    return text


FIELD_LINE = re.compile(r"^  (?!\(top level\))\S[^\n]*?: \S", re.M)   # "  <field path>: why"
FILE_ERROR = re.compile(r"(not valid TOML|not valid UTF-8|larger than|nested (too deeply|more than))")


def test_fuzzed_configs_end_in_a_config_error_naming_a_field_or_run(tmp_path):
    """>= 500 hostile configs through resolve() (what `proxnet study FILE` calls): each is
    a StudyConfig or a ConfigError naming a field (or the file's TOML/UTF-8 problem); never
    another exception. Then >= 20 of the valid ones run 1 epoch: no trial fails."""
    from proxnet.studies.runner import preflight, run_study
    valid, counts = [], {"valid": 0, "field": 0, "file": 0}
    path = tmp_path / "fuzz.toml"

    @settings(max_examples=520, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(hostile_configs())
    def check(text):
        try:
            path.write_bytes(text.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8", "replace"))
        try:
            cfg = resolve(str(path))
        except ConfigError as exc:
            msg = str(exc)
            assert msg.startswith(str(path)), msg
            if FILE_ERROR.search(msg.splitlines()[0]):
                counts["file"] += 1
            else:
                assert "invalid study config" in msg and FIELD_LINE.search(msg), msg
                counts["field"] += 1
            return
        counts["valid"] += 1
        if len(valid) < 30:
            valid.append(cfg)

    check()
    assert sum(counts.values()) >= 500, counts
    assert counts["field"] >= 150 and counts["file"] >= 10 and len(valid) >= 20, counts
    for i, cfg in enumerate(valid[:24]):
        short = cfg.with_overrides(seeds=1, epochs=1)
        try:
            preflight(short.trials())
        except ConfigError:
            continue     # refused before anything runs: validation caught it
        run = run_study(short, tmp_path / f"run{i}", jobs=1, progress=False)
        bad = [p for p in run.problems if "TrainingDivergedError" not in (p["message"] or "")]
        assert not bad, (short.model_dump(), bad)
        assert run.counts.get("done", 0) + len(run.problems) == len(short.trials())


def test_config_module_doctest():
    import doctest

    import proxnet.studies.config as config_module
    result = doctest.testmod(config_module)
    assert result.attempted >= 2 and result.failed == 0
