"""A test whose tool is missing skips on a developer's machine and fails under CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service.config import PROJECT_ROOT

NEEDS_A_TOOL = """
from tests.ci import missing

def test_needs_a_tool():
    missing("the tool is not installed")
"""


def _run(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_needs_a_tool.py"
    test.write_text(NEEDS_A_TOOL)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def test_missing_tool_skips_off_ci_and_fails_on_ci(tmp_path: Path):
    off = _run(tmp_path, "")
    assert off.returncode == 0 and "1 skipped" in off.stdout, off.stdout
    on = _run(tmp_path, "true")
    assert on.returncode == 1 and "CI must run this test, but the tool is not installed" in on.stdout, on.stdout
