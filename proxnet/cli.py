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


if __name__ == "__main__":  # pragma: no cover
    main()
