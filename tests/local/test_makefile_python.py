"""The Makefile finds a Python 3.11, 3.12 or 3.13 that runs (PYTHON overrides it), and says
which ones it needs when none does."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.local

ROOT = Path(__file__).resolve().parents[2]
PRINT_PYTHON = 'print-python: ; @echo "[$(PYTHON)]"'


def interpreters(folder: Path, working: list[str], broken: list[str]) -> None:
    """Stand-in interpreters in `folder`: the working ones run, the broken ones fail as a
    pyenv shim does for an installed version that is not selected."""
    for name, status in [*((n, 0) for n in working), *((n, 127) for n in broken)]:
        script = folder / name
        script.write_text(f"#!/bin/sh\necho 'Python {name[6:]}.0' >&2\nexit {status}\n")
        script.chmod(0o755)


def run_make(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """make in the repository with only `folder` and the system tools on PATH, a .venv that
    does not exist (so the repository's own interpreter is out of reach) and no pyenv."""
    system_path = os.pathsep.join(
        str(Path(tool).parent) for tool in (shutil.which("sh"), shutil.which("make")) if tool
    )
    return subprocess.run(
        ["make", "--no-print-directory", f"VENV={folder / 'venv'}", *args],
        cwd=ROOT,
        env={"PATH": f"{folder}{os.pathsep}{system_path}", "HOME": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A folder for stand-in interpreters, with a `pyenv` that fails (so that a pyenv
    installed beside the system tools cannot answer for the stand-ins)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    interpreters(folder, working=[], broken=["pyenv"])
    return folder


def test_the_first_supported_python_that_runs_is_taken(bin_dir: Path) -> None:
    """python3.11 is a shim that fails, python3.12 runs: the Makefile takes python3.12."""
    interpreters(bin_dir, working=["python3.12", "python3.13"], broken=["python3.11"])

    result = run_make(bin_dir, "--eval", PRINT_PYTHON, "print-python")

    assert (0, "[python3.12]") == (result.returncode, result.stdout.strip())


def test_python_overrides_the_search(bin_dir: Path) -> None:
    """PYTHON=<interpreter> is used as given."""
    interpreters(bin_dir, working=["python3.11", "python3.13"], broken=[])

    result = run_make(bin_dir, "--eval", PRINT_PYTHON, "print-python", PYTHON="python3.13")

    assert (0, "[python3.13]") == (result.returncode, result.stdout.strip())


def test_no_supported_python_is_a_clear_error(bin_dir: Path) -> None:
    """None of python3.11/3.12/3.13 runs: installing fails with a message naming all three."""
    interpreters(bin_dir, working=["python3.10"], broken=["python3.11", "python3.12", "python3.13"])

    result = run_make(bin_dir, str(bin_dir / "venv" / ".installed"))

    assert 0 != result.returncode
    assert "none of python3.11, python3.12, python3.13 runs here" in result.stderr
    assert not (bin_dir / "venv").exists()
