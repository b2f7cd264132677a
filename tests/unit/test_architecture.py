"""Dependencies point inward: domain imports only the stdlib; application adds only domain."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import shared_kernel

pytestmark = pytest.mark.unit

PACKAGE = Path(shared_kernel.__file__).parent
DOMAIN = ("shared_kernel.domain",)
APPLICATION = ("shared_kernel.domain", "shared_kernel.application")


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source imports, relative imports resolved against `package`."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            prefix = f"{base}." if node.level else ""
            found.add(prefix + node.module if node.module else base)
    return found


def outside(modules: set[str], allowed: tuple[str, ...]) -> list[str]:
    """The modules that are neither standard library nor inside an allowed package."""
    return sorted(
        name
        for name in modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and not any(name == p or name.startswith(p + ".") for p in allowed)
    )


def forbidden_imports(layer: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """Per module of a layer of shared_kernel, its imports outside the stdlib and `allowed`."""
    bad: dict[str, list[str]] = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        package = ".".join(path.relative_to(PACKAGE.parent).parent.parts)
        names = outside(imported_modules(path.read_text(), package), allowed)
        if names:
            bad[str(path.relative_to(PACKAGE.parent))] = names
    return bad


def test_both_layers_have_modules_to_check() -> None:
    """The walk finds the domain and application modules (guards against a vacuous pass)."""
    found = {p.stem for layer in ("domain", "application") for p in (PACKAGE / layer).glob("*.py")}
    assert {"payment", "card", "money", "ports", "submit_payment"} <= found


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    """No module under shared_kernel/domain imports a third-party or outer-layer module."""
    assert {} == forbidden_imports("domain", DOMAIN)


def test_application_imports_only_the_standard_library_domain_and_itself() -> None:
    """Use cases and ports import only the stdlib, shared_kernel.domain and the application."""
    assert {} == forbidden_imports("application", APPLICATION)


def test_the_check_catches_forbidden_imports() -> None:
    """Third-party, adapter and relative outer-layer imports are all reported."""
    source = (
        "import json\nimport boto3.session\nfrom shared_kernel.adapters import sqs\n"
        "from ..application import ports\nfrom . import money\nfrom .card import luhn_valid\n"
    )
    expected = ["boto3.session", "shared_kernel.adapters", "shared_kernel.application"]
    assert expected == outside(imported_modules(source, "shared_kernel.domain"), DOMAIN)
