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


@main.command()
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html and the CSV files  [default: STUDY_DIR/report]")
def report(study_dir, out):
    """Write the report of the study in STUDY_DIR (read from STUDY_DIR/study.db): one
    self-contained index.html, comparisons.csv, trials.csv and summary.csv, and print the
    verdict table (each group vs the baseline, paired by seed, Holm-corrected)."""
    from .studies.report import format_table, summarize, write_report  # deferred: matplotlib, scipy
    from .studies.store import StoreError  # deferred (as above)
    try:
        rows = summarize(study_dir)
        path = write_report(study_dir, out=out)
    except (FileNotFoundError, StoreError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_table(rows))
    click.echo(f"\nreport: {path}")
    click.echo(f"table:  {path.parent / 'summary.csv'}")


@main.command()
@click.argument("recipe")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Study folder (store, report)  [default: ./runs/<study name>, or ./runs/<study name>-<N>ep with --epochs N]")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Run seeds 0..N-1 instead of the config's seeds.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Train for N epochs instead of the config's (a shortened study).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Parallel workers  [default: all cores]")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool on this machine; dask: a Dask distributed cluster.")
@click.option("--address", default=None,
              help="Dask scheduler address (tcp://host:port); implies --executor dask. "
                   "Without it, --executor dask starts a local cluster of --jobs workers.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Time limit per trial in seconds (a trial past it is stored as 'timeout').")
@click.option("--retry-failed", is_flag=True, help="Also re-run trials stored as failed or timeout.")
@click.option("--no-report", is_flag=True, help="Do not write the report at the end.")
@click.option("--progress/--no-progress", default=None, help="Progress bar over the trials [default: on a terminal]")
def study(recipe, out, seeds, epochs, jobs, executor, address, timeout, retry_failed, no_report, progress):
    """Run the study RECIPE (a built-in recipe name, see `proxnet recipes`, or a TOML config
    file) and write its report.

    Results go to OUT/study.db as each trial finishes. Running the same command again
    resumes: finished trials are skipped, interrupted ones run again."""
    from .studies.config import ConfigError, resolve  # deferred: pydantic, matplotlib, scipy
    from .studies.report import format_table, summarize, write_report  # deferred: matplotlib, scipy
    from .studies.runner import run_study  # deferred (as above)
    from .studies.store import Store, StoreError  # deferred (as above)

    try:
        cfg = resolve(recipe).with_overrides(seeds=seeds, epochs=epochs)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    # a shortened study is a different study: give it its own default folder
    out = out or str(Path("runs") / (cfg.name + (f"-{epochs}ep" if epochs else "")))
    if address:
        executor = "dask"
    n = len(cfg.trials())
    click.echo(f"study {cfg.name}: {n} trials ({n // len(cfg.seeds)} grid points x {len(cfg.seeds)} seeds, "
               f"{cfg.training.epochs} epochs) -> {out}", err=True)
    try:
        run = run_study(cfg, out, jobs=jobs, executor=executor, address=address, timeout=timeout,
                        retry_failed=retry_failed, progress=progress)
    except (StoreError, ValueError, RuntimeError) as e:
        raise click.ClickException(str(e)) from None
    counts = ", ".join(f"{v} {k}" for k, v in sorted(run.counts.items()))
    click.echo(f"ran {run.ran} trials, skipped {run.skipped} already in the store; store: {counts}", err=True)
    if run.interrupted:
        click.echo(f"interrupted: finished trials are stored; run the same command again to resume", err=True)
        sys.exit(130)
    with Store(out) as store:
        store.export_csv(Path(out) / "report")
    if not no_report:
        path = write_report(out)
        click.echo(format_table(summarize(out)))
        click.echo(f"\nreport: {path}")


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
def export(study_dir, out):
    """Export the store of STUDY_DIR to CSV: trials.csv (one row per trial with its final
    metrics) and epochs.csv (every per-epoch metric, long format)."""
    from .studies.store import STORE_NAME, Store  # deferred: pydantic
    if not (Path(study_dir) / STORE_NAME).is_file():
        raise click.ClickException(f"study_dir: no study store {Path(study_dir) / STORE_NAME}")
    with Store(study_dir) as store:
        for p in store.export_csv(out):
            click.echo(str(p))


if __name__ == "__main__":  # pragma: no cover
    main()
