"""checkov, the infrastructure-as-code scanner, on every packaged CloudFormation template:
nothing may fail but the checks `.checkov.yaml` skips, each with its reason there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.packaging.checkov_run import CONFIG, checkov_report, failed_checks
from tests.packaging.template_checks import TEMPLATE

pytestmark = pytest.mark.packaging

SERVICES = [
    "resources",
    "merchant-api",
    "bank-forwarder",
    "bank-callback",
    "events",
    "webhook-sender",
]


@pytest.mark.parametrize("service", SERVICES)
def test_template_passes_checkov(service: str, packaged: Callable[[str], Path]) -> None:
    """The service's packaged template fails no checkov check outside .checkov.yaml's skips."""
    report = checkov_report(packaged(service) / TEMPLATE)
    summary = report["summary"]
    print(f"checkov {summary['checkov_version']} on {service}: {summary}")

    assert [] == failed_checks(report)
    assert 0 == summary["parsing_errors"]
    assert 0 < summary["passed"]


def test_every_skip_is_still_needed(packaged: Callable[[str], Path]) -> None:
    """Each check .checkov.yaml skips still fails on some template when it is not skipped."""
    skipped = set(yaml.safe_load(CONFIG.read_text())["skip-check"])
    failing: set[str] = set()
    for service in SERVICES:
        report = checkov_report(packaged(service) / TEMPLATE, skips=False)
        failing |= {check["check_id"] for check in report["results"]["failed_checks"]}

    assert set() == skipped - failing
