"""Shared fixtures: every test starts from the same seed, on CPU."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch
from hypothesis import settings

# One profile for every property test: deterministic draws (a failure reproduces on every machine,
# CI included) and no per-example deadline (2 shared cores make timings meaningless).
settings.register_profile("actlab", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("actlab")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    if not torch.cuda.is_available():
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip_gpu)
