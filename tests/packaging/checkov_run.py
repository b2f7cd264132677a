"""checkov (its own virtualenv, .venv-checkov) on one packaged template, offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from local.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


def offline_env() -> dict[str, str]:
    """The environment without any Prisma Cloud / Bridgecrew setting, no version check, and
    a proxy that nothing listens on, so that any network attempt fails at once."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BC_", "PRISMA_", "CKV_", "CHECKOV_"))
    }
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env.update(
        CKV_SKIP_PACKAGE_UPDATE_CHECK="true",
        HTTP_PROXY=dead_proxy,
        HTTPS_PROXY=dead_proxy,
        NO_PROXY="",
    )
    return env


def checkov_report(template: Path, *, skips: bool = True) -> dict[str, Any]:
    """checkov's JSON report on `template`: with .checkov.yaml, or (`skips=False`) with the
    same framework and offline options but no skipped check."""
    options = (
        ["--config-file", str(CONFIG)]
        if skips
        else ["--framework", "cloudformation", "--skip-download"]
    )
    result = subprocess.run(
        [str(CHECKOV), "--file", str(template), "--output", "json", *options],
        # Outside the repository, so that checkov finds no .checkov.yaml by itself.
        cwd=template.parent,
        env=offline_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # 0: nothing failed, 1: some check failed; anything else is checkov itself failing.
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def failed_checks(report: dict[str, Any]) -> list[str]:
    """`CHECK_ID resource` of every failed check of a report."""
    return [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
