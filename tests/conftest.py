"""Fixtures shared across the test packages."""

from __future__ import annotations

import builtins
import os

import pytest

# Simulations default to each plan's compiled numba kernel (engine.plan.compile.default_backend);
# the suite simulates many generated plans, each of which would compile a kernel of its own, so
# it runs on numpy unless told otherwise (the shipped plans give the same documents on both, and
# the numba backend has its own tests, which name it or unset this).
os.environ.setdefault("INCENTIVE_BACKEND", "numpy")


@pytest.fixture(scope="module")
def kernel_cache(tmp_path_factory):
    """Compiled numba kernels go to a temporary directory for the module, not the user's
    cache (so every kernel a test needs is compiled, as on a fresh machine); worker
    processes inherit it through the environment."""
    from engine.plan.numba_backend import CACHE_ENV

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(tmp_path_factory.mktemp("kernels"))
    yield
    if old is None:
        del os.environ[CACHE_ENV]
    else:
        os.environ[CACHE_ENV] = old


@pytest.fixture
def without_numba(monkeypatch):
    """``import numba`` (and its submodules) fails for the test's duration, as where numba is
    not installed."""
    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("no numba here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numba)
