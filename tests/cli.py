"""Running the ``incentive`` command line from the tests.

``incentive`` runs the real console entry point in a subprocess, as a user would (the
repository root as working directory and on ``PYTHONPATH``); ``invoke`` runs it in process
with click's test runner, for tests that need the exception or run many commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from click.testing import Result

ROOT = Path(__file__).resolve().parents[1]


def incentive(*args: object, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``incentive ARGS...`` in a subprocess; the exit code is the caller's to check."""
    return subprocess.run([sys.executable, "-m", "engine.app.cli", *map(str, args)], capture_output=True,
                          check=False, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=timeout)


def invoke(*args: object) -> Result:
    """``incentive ARGS...`` in process (click's ``CliRunner``, exceptions caught into the result)."""
    from click.testing import CliRunner

    from engine.app.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])
