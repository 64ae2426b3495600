"""The ``proxnet`` command: thin wrappers that parse options, call the library and print.

Every command takes ``-q/--quiet`` and ``-v/--verbose`` (repeatable), which set the level of
the ``"proxnet"`` logger: INFO by default (download progress from ``"proxnet.data"``, what a
study ran), WARNING with ``-q`` (and no progress bar unless ``--progress``), ERROR with
``-qq``, DEBUG with ``-v``. Log records are written to stderr.
"""
from __future__ import annotations

import functools
import logging
import sys

import click

from . import __version__


class _EchoHandler(logging.Handler):
    """Log records to the current stderr (click's, so that a test runner captures them)."""

    def emit(self, record):
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # noqa: BLE001 - logging never raises
            self.handleError(record)


def _setup_logging(level: int) -> None:
    logger = logging.getLogger("proxnet")
    for h in [h for h in logger.handlers if isinstance(h, _EchoHandler)]:
        logger.removeHandler(h)
    handler = _EchoHandler()
    handler.setFormatter(logging.Formatter("%(message)s" if level >= logging.INFO
                                           else "%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


def _verbosity(fn):
    """-q/--quiet and -v/--verbose on a command, wired to the "proxnet" logger."""
    @click.option("-v", "--verbose", count=True, help="More messages (debug).")
    @click.option("-q", "--quiet", count=True,
                  help="Fewer messages: warnings and errors only (-qq: errors only).")
    @functools.wraps(fn)
    def wrapper(*args, verbose, quiet, **kwargs):
        level = min(logging.ERROR, max(logging.DEBUG, logging.INFO + 10 * (quiet - verbose)))
        _setup_logging(level)
        click.get_current_context().meta["proxnet.quiet"] = quiet > verbose
        return fn(*args, **kwargs)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="proxnet")
def main():
    """proxnet: NumPy neural networks built for studying overfitting and regularization."""


@main.command()
@_verbosity
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
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # deferred, as every lab import here: they load pydantic, and `--help` stays fast
        from .studies.config import ConfigError  # deferred (above)
        from .studies.lock import StudyLocked  # deferred (above)
        from .studies.runner import PreflightError  # deferred (above)
        from .studies.store import StoreError, StoreWriteError  # deferred (above)
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
@_verbosity
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html and the CSV files  [default: STUDY_DIR/report]")
@click.option("--watch", is_flag=True,
              help="Rewrite the report every --interval seconds while the study runs; the page "
                   "reloads itself until the study ends, then the final page is written.")
@click.option("--interval", type=click.FloatRange(min=0.2, max=3600), default=5.0,
              show_default=True, help="Seconds between rewrites with --watch.")
@_store_errors
def report(study_dir, out, watch, interval):
    """Write the report of the study in STUDY_DIR (read from STUDY_DIR/study.db, opened
    read-only; works while the study runs and on a read-only folder with --out elsewhere):
    one self-contained index.html, comparisons.csv, trials.csv and summary.csv, and print the
    verdict table (each group vs the baseline, paired by seed, Holm-corrected).

    With --watch, while a study runs in STUDY_DIR (or until it starts), the report is
    rewritten every --interval seconds and the page reloads itself, drawing the running
    trials' partial curves; when the study ends the final page (no reload) is written."""
    from .studies import Study, load  # deferred: matplotlib, scipy
    try:
        study = Study(study_dir) if watch else load(study_dir)
    except FileNotFoundError as e:
        _fail(f"error: {e}", EXIT_USAGE)
    if watch:
        def wrote(p, running):
            logging.getLogger("proxnet.studies").info(
                "%s: %s", p, "study running, rewritten" if running else "study ended, final page")
        try:
            path = study.watch(out, interval=interval, on_write=wrote)
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)
    else:
        path = study.report(out)
    click.echo(study.table())
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
@_verbosity
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
    from .studies import api  # deferred: pydantic, matplotlib, scipy
    from .studies.config import ConfigError  # deferred (as above)
    quiet = ctx.meta.get("proxnet.quiet", False)
    try:
        result = api.run(recipe, out, seeds=seeds, epochs=epochs, jobs=jobs,
                         executor="dask" if address else executor, address=address,
                         timeout=timeout, checkpoint_every=checkpoint_every,
                         retry_failed=retry_failed, report=not no_report,
                         progress=False if quiet and progress is None else progress,
                         keep_workers=False)
    except ValueError as e:       # a bad --jobs / --executor; a config error is _store_errors'
        if isinstance(e, ConfigError):
            raise
        _fail(f"error: {e}", EXIT_USAGE)
    last = result.last_run
    if last.interrupted:
        click.echo("interrupted: finished trials are stored, running ones keep their checkpoints; "
                   "run the same command again to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if no_report:
        result.export(result.path / "report")
    else:
        click.echo(result.table())
        click.echo(f"\nreport: {result.path / 'report' / 'index.html'}")
    if not last.complete:
        if last.problems:
            _report_problems(last.problems, _retry_command(ctx, result.path))
        sys.exit(EXIT_FAILED)


@main.command()
@_verbosity
def recipes():
    """List the built-in study recipes, one line each."""
    from .studies.config import list_recipes  # deferred: pydantic
    items = list_recipes()
    width = max(map(len, items))
    for name, desc in items.items():
        click.echo(f"{name.ljust(width)}  {desc}")


@main.command()
@_verbosity
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for trials.csv and epochs.csv  [default: STUDY_DIR]")
@_store_errors
def export(study_dir, out):
    """Export the store of STUDY_DIR to CSV: trials.csv (one row per trial with its final
    metrics) and epochs.csv (every per-epoch metric, long format). The store is opened
    read-only; each file is written to a temporary name and renamed."""
    from .studies import load  # deferred: pydantic
    try:
        study = load(study_dir)
    except FileNotFoundError as e:
        _fail(f"error: {e}", EXIT_USAGE)
    for p in study.export(out):
        click.echo(str(p))


if __name__ == "__main__":  # pragma: no cover
    main()
