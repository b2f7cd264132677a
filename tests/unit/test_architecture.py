"""Dependencies point inward: domain imports only the stdlib; application adds only domain."""

from __future__ import annotations

import ast
import re
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


ROOT = PACKAGE.parent
PRODUCT = ("shared_kernel", "services", "local")
# Ways into the insides of PynamoDB, Powertools and botocore the product once used, and
# run-time changes to a model's Meta (a model is bound by making a class: see bound_model).
LIBRARY_INTERNALS = {
    "PynamoDB's private connection accessor": re.compile(r"\b_get_connection\("),
    "a botocore client's private slot in PynamoDB": re.compile(r"\bconnection\._client\b"),
    "Powertools' wrapped standard logger": re.compile(r"\._logger\b"),
    "a PynamoDB model's cached connection": re.compile(r"\._connection\b"),
    "an assignment to a model's Meta": re.compile(
        r"\bMeta\.\w+\s*(?:[-+*/|&]?=)(?!=)|setattr\(\s*[\w.]*Meta\b"
    ),
    # Taken into a variable, a Meta is assigned to out of sight of the pattern above.
    "a model's Meta held in a variable": re.compile(
        r"^\s*\w+(?:\s*:[^=]+)?\s*=\s*[\w.]+\.Meta\s*$"
    ),
}


def library_internals(source: str) -> list[str]:
    """What of LIBRARY_INTERNALS a source reaches, one entry per line that does."""
    return [
        f"{number}: {what}"
        for number, line in enumerate(source.splitlines(), start=1)
        for what, pattern in LIBRARY_INTERNALS.items()
        if pattern.search(line)
    ]


def product_sources() -> list[Path]:
    """Every Python module of the product (shared_kernel, services, local), not the
    libraries that packaging copies under services/*/.serverless (ignored by git)."""
    return sorted(
        path
        for top in PRODUCT
        for path in (ROOT / top).rglob("*.py")
        if ".serverless" not in path.relative_to(ROOT).parts
    )


def test_the_product_reaches_no_library_internals() -> None:
    """No module of shared_kernel, services or local uses a private accessor of PynamoDB,
    Powertools or botocore, or assigns to a model's Meta at run time."""
    found = {
        str(path.relative_to(ROOT)): hits
        for path in product_sources()
        if (hits := library_internals(path.read_text(encoding="utf-8")))
    }

    assert {} == found


def test_the_internals_check_sees_every_kind_of_reach_and_the_whole_product() -> None:
    """Each forbidden use is reported (and comparisons or public names are not), and the walk
    covers the three product trees (guards against a vacuous pass)."""
    source = (
        "PaymentModel._get_connection().update_item(key)\n"
        "model._get_connection().connection._client = client\n"
        "logger._logger.propagate = False\n"
        "model._connection = None\n"
        "meta: Any = model.Meta\nModel.Meta.table_name = name\n"
        "setattr(model.Meta, 'host', host)\n"
        "assert Model.Meta.table_name == name\n"
        "self._transaction_connection()\nlogging.getLogger(logger.name).propagate = False\n"
    )
    expected = [
        "1: PynamoDB's private connection accessor",
        "2: PynamoDB's private connection accessor",
        "2: a botocore client's private slot in PynamoDB",
        "3: Powertools' wrapped standard logger",
        "4: a PynamoDB model's cached connection",
        "5: a model's Meta held in a variable",
        "6: an assignment to a model's Meta",
        "7: an assignment to a model's Meta",
    ]
    tops = {path.relative_to(ROOT).parts[0] for path in product_sources()}

    assert (expected, set(PRODUCT)) == (library_internals(source), tops)
