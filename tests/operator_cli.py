"""Runs the operator CLI (`gateway-ops`, the package's console script) as an operator does:
a subprocess of the installed script, pointed at a test emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

GATEWAY_OPS = Path(sys.executable).parent / "gateway-ops"


def gateway_ops(
    *arguments: str, emulator_port: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`gateway-ops ARGUMENTS` with the local stage's emulator on `emulator_port` (and
    `env` added to this process's environment); its exit status and output."""
    emulator = {"AWS_EMULATOR_PORT": str(emulator_port)} if emulator_port else {}
    return subprocess.run(
        [str(GATEWAY_OPS), *arguments],
        env={**os.environ, **emulator, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
