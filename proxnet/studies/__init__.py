"""The lab: studies of regularizers × strengths × seeds, stored in SQLite and reported with
honest statistics (docs/studies.md). The Python API (docs/notebooks.md)::

    from proxnet.studies import run, load
    study = run("digits-quick", epochs=5)
    study.comparisons()

The submodules (config, runner, store, report, ...) import their dependencies (pydantic,
scipy, matplotlib) when they are imported; this package imports none of them.
"""
from .api import Study, load, run

__all__ = ["run", "load", "Study"]
