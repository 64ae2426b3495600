"""The ``proxnet`` command: thin wrappers that parse options, call the library and print."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="proxnet")
def main():
    """proxnet: NumPy neural networks built for studying overfitting and regularization."""


@main.command()
@click.option("--seed", default=0, show_default=True, help="Seed of the random test points.")
def gradcheck(seed):
    """Check every layer, loss and regularizer in the registries, and a whole model,
    against centred-difference gradients (float64). Exits 1 if any check fails."""
    from .gradcheck import check_all, format_table  # deferred: each command loads only what it uses
    rows = check_all(seed=seed)
    click.echo(format_table(rows))
    failed = [r for r in rows if not r["passed"]]
    click.echo(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_IN_USE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Exit codes of ``proxnet study``: every trial done; some trial failed or timed out (or the
study could not run: missing dataset, disk full); usage or config error (also a folder that
holds another study or no proxnet store); folder in use by another running study; Ctrl-C."""


def _fail(message: str, code: int):
    click.echo(str(message).rstrip(), err=True)
    sys.exit(code)


def _store_errors(fn):
    """Map the lab's errors to one clear line (or block) and an exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .studies.config import ConfigError
        from .studies.lock import StudyLocked
        from .studies.runner import PreflightError
        from .studies.store import StoreError, StoreWriteError
        try:
            return fn(*args, **kwargs)
        except ConfigError as e:
            _fail(e, EXIT_USAGE)
        except StudyLocked as e:
            _fail(f"error: {e}", EXIT_IN_USE)
        except (StoreWriteError, PreflightError) as e:
            _fail(f"error: {e}", EXIT_FAILED)
        except StoreError as e:
            _fail(f"error: {e}", EXIT_USAGE)
        except OSError as e:
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            _fail(f"error: cannot write{where}: {e.strerror or e}", EXIT_FAILED)
        except RuntimeError as e:     # e.g. worker processes that cannot start
            _fail(f"error: {e}", EXIT_FAILED)
    return wrapper


@main.command()
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html and the CSV files  [default: STUDY_DIR/report]")
@_store_errors
def report(study_dir, out):
    """Write the report of the study in STUDY_DIR (read from STUDY_DIR/study.db, opened
    read-only; works while the study runs and on a read-only folder with --out elsewhere):
    one self-contained index.html, comparisons.csv, trials.csv and summary.csv, and print the
    verdict table (each group vs the baseline, paired by seed, Holm-corrected)."""
    from .studies.report import format_table, summarize, write_report  # deferred: matplotlib, scipy
    try:
        rows = summarize(study_dir)
    except FileNotFoundError as e:
        _fail(f"error: {e}", EXIT_USAGE)
    path = write_report(study_dir, out=out)
    click.echo(format_table(rows))
    click.echo(f"\nreport: {path}")
    click.echo(f"table:  {path.parent / 'summary.csv'}")


def _retry_command(ctx, out) -> str:
    """The ``proxnet study`` command line of this run, with --retry-failed."""
    import shlex
    p = ctx.params
    words = ["proxnet", "study", p["recipe"], "--out", str(out)]
    for name in ("seeds", "epochs", "jobs", "timeout", "checkpoint_every", "address"):
        if p.get(name) is not None:
            words += [f"--{name.replace('_', '-')}", f"{p[name]:g}" if isinstance(p[name], float) else str(p[name])]
    if p.get("executor") == "dask" and not p.get("address"):
        words += ["--executor", "dask"]
    return " ".join(shlex.quote(w) for w in words + ["--retry-failed"])


def _report_problems(problems, retry: str) -> None:
    """Each distinct error once, in full, with the trials it hit, then what to run."""
    groups: dict[str, list] = {}
    for p in problems:
        text = (p["message"] or (p["error"] or "").strip().splitlines()[-1:] or ["(no message)"])
        text = text if isinstance(text, str) else text[0]
        groups.setdefault(text, []).append(p)
    final = [p for p in problems if p["status"] in ("failed", "timeout")]
    env = [p for p in problems if p["status"] == "pending"]
    click.echo(f"\n{len(final)} trial(s) failed or timed out, {len(env)} not run because of the "
               f"environment; {len(groups)} distinct error(s):", err=True)
    for i, (text, ps) in enumerate(groups.items(), 1):
        who = ", ".join(f"{p['method']}" + ("" if p["strength"] is None else f" {p['strength']:g}")
                        + f" seed {p['seed']}" for p in ps[:6]) + (f", … ({len(ps)} in all)" if len(ps) > 6 else "")
        click.echo(f"\n[{i}] {ps[0]['status'] if ps[0]['status'] != 'pending' else 'not run'} "
                   f"({len(ps)} trial(s): {who})\n{text}", err=True)
    click.echo("", err=True)
    if env:
        click.echo("Trials not run because of the environment (missing data or package, memory, "
                   "disk) are retried by running the same command again.", err=True)
    if final:
        click.echo(f"To run the failed and timed-out trials again:\n  {retry}", err=True)


@main.command()
@click.argument("recipe")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Study folder (store, report)  [default: ./runs/<study name>, or ./runs/<study name>-<N>ep with --epochs N]")
@click.option("--seeds", type=click.IntRange(min=1, max=1000), default=None,
              help="Run seeds 0..N-1 instead of the config's seeds.")
@click.option("--epochs", type=click.IntRange(min=1, max=1_000_000), default=None,
              help="Train for N epochs instead of the config's (a shortened study).")
@click.option("--jobs", "-j", type=click.IntRange(min=1, max=1024), default=None,
              help="Parallel workers  [default: all cores]")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: worker processes on this machine; dask: a Dask distributed cluster.")
@click.option("--address", default=None,
              help="Dask scheduler address (tcp://host:port); implies --executor dask. "
                   "Without it, --executor dask starts a local cluster of --jobs workers.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True, max=1e7), default=None,
              help="Time limit per trial in seconds (a trial past it is stored as 'timeout').")
@click.option("--checkpoint-every", type=click.FloatRange(min=0, max=1e7), default=None,
              help="Seconds between checkpoints of a running trial (0: every epoch)  [default: the "
                   "config's checkpoint_every, 60]")
@click.option("--retry-failed", is_flag=True, help="Also re-run trials stored as failed or timeout.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar of epochs done / planned [default: on a terminal]")
@click.pass_context
@_store_errors
def study(ctx, recipe, out, seeds, epochs, jobs, executor, address, timeout, checkpoint_every,
          retry_failed, no_report, progress):
    """Run the study RECIPE (a built-in recipe name, see `proxnet recipes`, or a TOML config
    file) and write its report.

    Running trials write their epochs to OUT/study.db as they go and a checkpoint at most
    every --checkpoint-every seconds. Running the same command again resumes: finished
    trials are skipped, interrupted ones continue from their checkpoint.

    Exit codes: 0 every trial done; 1 some trial failed or timed out, or the study could
    not run (missing dataset, disk full); 2 usage or config error; 3 OUT is in use by
    another running study; 130 interrupted."""
    from .studies.config import resolve  # deferred: pydantic, matplotlib, scipy
    from .studies.report import format_table, summarize, write_report  # deferred: matplotlib, scipy
    from .studies.runner import run_study  # deferred (as above)
    from .studies.store import export_csv, open_readonly  # deferred (as above)

    cfg = resolve(recipe).with_overrides(seeds=seeds, epochs=epochs, timeout=timeout,
                                         checkpoint_every=checkpoint_every)
    # a shortened study is a different study: give it its own default folder
    out = out or str(Path("runs") / (cfg.name + (f"-{epochs}ep" if epochs else "")))
    if address:
        executor = "dask"
    n = len(cfg.trials())
    click.echo(f"study {cfg.name}: {n} trials ({n // len(cfg.seeds)} grid points x {len(cfg.seeds)} seeds, "
               f"{cfg.training.epochs} epochs) -> {out}", err=True)
    try:
        run = run_study(cfg, out, jobs=jobs, executor=executor, address=address,
                        retry_failed=retry_failed, progress=progress)
    except ValueError as e:
        _fail(f"error: {e}", EXIT_USAGE)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(run.counts.items()))
    resumed = f" ({run.resumed} resumed from checkpoints)" if run.resumed else ""
    click.echo(f"ran {run.ran} trials{resumed}, skipped {run.skipped} already in the store; "
               f"store: {counts}", err=True)
    if run.interrupted:
        click.echo("interrupted: finished trials are stored, running ones keep their checkpoints; "
                   "run the same command again to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    conn = open_readonly(out)
    try:
        export_csv(conn, Path(out) / "report")
    finally:
        conn.close()
    if not no_report:
        path = write_report(out)
        click.echo(format_table(summarize(out)))
        click.echo(f"\nreport: {path}")
    if not run.complete:
        if run.problems:
            _report_problems(run.problems, _retry_command(ctx, out))
        sys.exit(EXIT_FAILED)


@main.command()
def recipes():
    """List the built-in study recipes, one line each."""
    from .studies.config import list_recipes  # deferred: pydantic
    items = list_recipes()
    width = max(map(len, items))
    for name, desc in items.items():
        click.echo(f"{name.ljust(width)}  {desc}")


@main.command()
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for trials.csv and epochs.csv  [default: STUDY_DIR]")
@_store_errors
def export(study_dir, out):
    """Export the store of STUDY_DIR to CSV: trials.csv (one row per trial with its final
    metrics) and epochs.csv (every per-epoch metric, long format). The store is opened
    read-only; each file is written to a temporary name and renamed."""
    from .studies.store import export_csv, open_readonly  # deferred: pydantic
    conn = open_readonly(study_dir)
    try:
        for p in export_csv(conn, out or study_dir):
            click.echo(str(p))
    finally:
        conn.close()


if __name__ == "__main__":  # pragma: no cover
    main()
