"""The packaging suite's shared fixture: `make deploy-local` once per test session, against a
moto server of its own, and each service's artefacts as that deploy packaged them.

`sls deploy` is `sls package` followed by the upload of what it packaged: the templates and
zips the packaging tests inspect are the ones the deploy sent (tests/packaging/
test_deploy_local.py checks the stacks it made). Packaging every service a second time for
the inspection alone took the suite about 100 s more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.deploy import ORDER
from local.stack import free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Deployed:
    """The emulator the services were deployed to, and each service's artefacts."""

    emulator_port: int
    folders: dict[str, Path]


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """`python -m local.deploy` (what `make deploy-local` runs) against a fresh moto server,
    which stays up for the session (stopped by pid); each service's `.serverless` templates
    and zips copied aside."""
    port = free_port()
    moto = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), "moto server", 30)
        result = subprocess.run(
            [sys.executable, "-m", "local.deploy"],
            cwd=ROOT,
            env={**os.environ, "AWS_EMULATOR_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]
        folders: dict[str, Path] = {}
        for service in ORDER:
            out = tmp_path_factory.mktemp(f"package-{service}")
            built = ROOT / "services" / service / ".serverless"
            for artefact in [*built.glob("*.json"), *built.glob("*.zip")]:
                shutil.copy2(artefact, out / artefact.name)
            folders[service] = out
        yield Deployed(port, folders)
    finally:
        moto.terminate()
        moto.wait(timeout=10)


@pytest.fixture(scope="session")
def packaged(deployed: Deployed) -> Callable[[str], Path]:
    """A service's artefacts (its CloudFormation templates, its zip) as deployed."""

    def package(service: str) -> Path:
        return deployed.folders[service]

    return package
