"""`sls package` (osls + serverless-python-requirements) of every function service: the
real CLI builds each deployment package, which must carry the handlers, the shared kernel
with its contracts, and no AWS SDK; cfn-lint checks each generated template."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.packaging.template_checks import TEMPLATE, least_privilege_problems, stage_throttling

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
MAX_ZIP_BYTES = 10 * 1024 * 1024


def cfn_lint(template: Path) -> str:
    """cfn-lint's findings on a template (empty when it passes)."""
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        cwd=ROOT,  # for .cfnlintrc.yaml
        capture_output=True,
        text=True,
        timeout=300,
    )
    return "" if lint.returncode == 0 else lint.stdout + lint.stderr


@pytest.mark.parametrize(
    "service", ["merchant-api", "bank-forwarder", "bank-callback", "events", "webhook-sender"]
)
def test_service_packages_with_handlers_kernel_and_contracts(
    service: str, packaged: Callable[[str], Path]
) -> None:
    """The package builds, holds handlers + shared_kernel + schemas, no boto3 and not the
    operator CLI (gateway_ops, click), under 10 MB."""
    folder = packaged(service)  # the session deploy packaged it (and exited 0)

    (archive,) = folder.glob("*.zip")
    names = zipfile.ZipFile(archive).namelist()
    top = {name.split("/")[0] for name in names}
    handlers = service.replace("-", "_") + "_handlers"
    assert {handlers, "shared_kernel", "pynamodb", "jsonschema"} <= top
    assert set() == top & {"boto3", "botocore", "gateway_ops", "click"}
    assert "shared_kernel/schemas/submit-payment-request.schema.json" in names
    assert archive.stat().st_size <= MAX_ZIP_BYTES

    template = folder / TEMPLATE
    document = json.loads(template.read_text())
    assert "Resources" in document
    # Least privilege: each function its own role, no wildcard action or resource.
    assert [] == least_privilege_problems(document)
    if service == "merchant-api":
        assert [(500, 1000)] == stage_throttling(document)
    assert "" == cfn_lint(template)


def test_resources_template_passes_cfn_lint(packaged: Callable[[str], Path]) -> None:
    """The shared resources' template builds and passes cfn-lint."""
    template = packaged("resources") / TEMPLATE  # as the session deploy packaged it
    assert "" == cfn_lint(template)
