"""The ``proxnet`` command: thin wrappers that parse options, call the library and print."""
from __future__ import annotations

import sys

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
    from .gradcheck import check_all, format_table
    rows = check_all(seed=seed)
    click.echo(format_table(rows))
    failed = [r for r in rows if not r["passed"]]
    click.echo(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("study_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html and summary.csv  [default: STUDY_DIR/report]")
def report(study_dir, out):
    """Write the report of the study in STUDY_DIR (read from STUDY_DIR/study.db): one
    self-contained index.html and summary.csv, and print the summary table (mean ± std and
    95% CI over seeds per method and strength)."""
    from .studies.report import format_table, summarize, write_report
    try:
        rows = summarize(study_dir)
        path = write_report(study_dir, out=out)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_table(rows))
    click.echo(f"\nreport: {path}")
    click.echo(f"table:  {path.parent / 'summary.csv'}")


if __name__ == "__main__":  # pragma: no cover
    main()
