"""The lab: studies of regularizers × strengths × seeds, stored in SQLite and reported with
honest statistics (docs/studies.md). The Python API (docs/notebooks.md)::

    from proxnet.studies import run, load
    study = run("digits-quick", epochs=5)
    study.comparisons()

Importing the package loads what running a study needs (pydantic for configs, the runner,
the store); the statistics and figures (scipy, matplotlib) load when a comparison, a table or
a report is asked for, so trial workers never import them.
"""
from .api import Study, load, run

__all__ = ["run", "load", "Study"]
