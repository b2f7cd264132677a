"""The packaging suite's shared fixture: each service packaged once per test session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from local.deploy import osls_package


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`osls package` of a service (once per session): the folder with its artefacts."""
    folders: dict[str, Path] = {}

    def package(service: str) -> Path:
        if service not in folders:
            out = tmp_path_factory.mktemp(f"package-{service}")
            result = osls_package(service, out)
            assert 0 == result.returncode, result.stdout[-3000:] + result.stderr[-3000:]
            folders[service] = out
        return folders[service]

    return package
