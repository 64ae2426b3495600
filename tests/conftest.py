"""Shared test helpers: the PyTorch oracle (optional) and the shared data folder."""
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

TORCH_REASON = "PyTorch oracle not installed (pip install torch==2.13.0)"


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir(monkeypatch):
    """Point PROXNET_DATA at ../shared/data (skip visibly if MNIST is not there)."""
    if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST not found in {SHARED_DATA / 'mnist'}")
    monkeypatch.setenv("PROXNET_DATA", str(SHARED_DATA))
    return SHARED_DATA


def away_from_zero(rng, shape, margin=0.05):
    v = rng.normal(size=shape)
    return np.where(v >= 0, v + margin, v - margin)
