"""Every script in examples/ runs with --small, prints its score and saves its plots."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Scripts only: modules starting with "_" are what the scripts share.
EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("[!_]*.py"))
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
# Each script prints at least one line that starts with "score": its test metric, or
# the title of its table of them.
SCORE_LINE = re.compile(r"^score\b", re.MULTILINE)


def test_examples_are_found():
    # An empty glob would parametrize nothing and pass silently.
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_small(path, tmp_path):
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        # One thread: on a shared machine, kernel threads waiting at the per-step barrier
        # for a busy core slow a run many times over, and --small gains little from two.
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, str(path), "--small", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # the default --out would otherwise land in the repository
        timeout=120,
    )
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    assert SCORE_LINE.search(result.stdout), report
    if HAS_MATPLOTLIB:
        assert list(tmp_path.glob("*.png")), report
    else:
        assert "matplotlib is not installed" in result.stdout, report
