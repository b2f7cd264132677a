"""Schemathesis against the merchant API's OpenAPI document on the running local stack:
every check it has (server errors, status codes, content types, headers, response schemas,
negative data rejected, positive data accepted, auth...), positive and negative data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.stack import LocalStack
from tests.conftest import Merchant
from tests.security.support import FIGURES

pytestmark = pytest.mark.security

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "contracts" / "merchant-api.openapi.json"
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Examples per operation and phase: sized for about two minutes on two cores.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60"))


def test_schemathesis_finds_no_server_error_nor_schema_violation(
    stack: LocalStack, tmp_path: Path
) -> None:
    """`st run --checks all` finds nothing: no 5xx, every answer honours the document."""
    # A merchant of its own: the run fills its 16 webhook endpoints, which no other test
    # of the session may find full.
    created = stack.register_merchant("Schemathesis merchant")
    merchant = Merchant(created["merchant_id"], created["api_key"])
    report = tmp_path / "report.ndjson"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        str(OPENAPI),
        "--url",
        f"http://127.0.0.1:{stack.ports.merchant_api}",
        "--header",
        f"Authorization: Bearer {merchant.api_key}",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "20261126"),
        # One worker: on this CPython 3.11, ast.parse in two threads at once can raise
        # "SystemError: AST constructor recursion depth mismatch", and Hypothesis parses the
        # source of each lambda it describes (Schemathesis's filters of query-parameter
        # values among them): with two workers the list's query parameters failed the run.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    result = subprocess.run(
        command,
        env={**os.environ, "ST_MERCHANT_ID": merchant.id},
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    (tmp_path / "schemathesis.out").write_text(result.stdout + result.stderr)
    cases, failures = _figures(report)
    FIGURES["schemathesis_cases"] += cases
    FIGURES["schemathesis_failures"] += failures

    assert cases > 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert 0 == result.returncode, result.stdout[-8000:] + result.stderr[-2000:]


def _figures(report: Path) -> tuple[int, int]:
    """(test cases generated, failures) read from the NDJSON event stream."""
    cases = failures = 0
    if not report.exists():
        return 0, 0
    for line in report.read_text().splitlines():
        event: dict[str, Any] = json.loads(line)
        for kind, body in event.items():
            if kind == "ScenarioFinished" and isinstance(body, dict):
                recorder = body.get("recorder") or {}
                cases += len(recorder.get("cases") or {})
                for checks in (recorder.get("checks") or {}).values():
                    failures += sum(1 for c in checks if c.get("status") == "failure")
    return cases, failures
