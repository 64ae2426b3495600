"""``proxnet`` / ``python -m proxnet``: the command line, with a clear message when the lab
extra it needs is not installed."""
import sys

from ._extras import LAB, require


def main():
    try:
        require(LAB, "the proxnet command", "lab")
    except ImportError as exc:
        print(f"proxnet: {exc}", file=sys.stderr)
        sys.exit(2)
    from .cli import main as cli_main   # deferred: click and the lab are optional dependencies
    cli_main()


if __name__ == "__main__":  # pragma: no cover
    main()
