"""Every example in the package's docstrings runs as written (one test per module)."""
import doctest
import importlib
import pkgutil
import warnings

import pytest

import proxnet

MODULES = sorted(m.name for m in pkgutil.walk_packages(proxnet.__path__, "proxnet.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra that this machine lacks
        pytest.skip(f"{name} needs {exc.name}, not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # examples may show a warning-raising fit
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_package_has_examples():
    # a walk that found nothing would pass every case above
    assert {"proxnet.model", "proxnet.registry", "proxnet.data.generators"} <= set(MODULES)
