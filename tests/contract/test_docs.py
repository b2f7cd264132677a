"""The documentation stays true to the contracts and the code, and the repository stands on
its own: every route and error code is in docs/api.md or docs/bank-contract.md, and no tracked
file refers to a path outside the repository."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.cloudformation import load_yaml

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
BANK_DOC = ROOT / "docs" / "bank-contract.md"
SIMULATOR = ROOT / "services" / "bank-simulator"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Paths outside the repository: the sibling `shared` folder (not `services/shared.yml`), the
# machine's work tree, and the documents that lived there. Spelt so that this file does not
# match itself.
OUTSIDE = re.compile(r"\.\./shared(?!\.yml)|/wor" r"k/|\b(?:SPEC|ARCHITECTURE|LESSONS)\.md\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
BACKTICKED = re.compile(r"`([^`\s]+)`")
PLACEHOLDER = re.compile(r"[<>{}*$]")
# A path parameter in the simulator's route patterns: `(?P<payment_id>[^/]+)`.
NAMED_GROUP = re.compile(r"\(\?P<\w+>[^)]*\)")


def serverless_documents() -> dict[str, dict[str, Any]]:
    """Every function service's serverless.yml, by service folder name."""
    return {
        path.parent.name: load_yaml(path)
        for path in sorted((ROOT / "services").glob("*/serverless.yml"))
    }


def doc_text(*docs: Path) -> str:
    """The text of the given documents, one after the other."""
    return "\n".join(doc.read_text(encoding="utf-8") for doc in docs)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in `text`."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.lstrip().startswith("|")
    ]


def documented(status: int | None, code: str, rows: list[list[str]]) -> bool:
    """True when a table row gives `code` (in backticks) in its second cell, with `status` in
    its first when a status is known."""
    return any(
        len(row) > 1 and f"`{code}`" in row[1] and (status is None or row[0] == str(status))
        for row in rows
    )


# -- routes ---------------------------------------------------------------------------


def openapi_routes() -> list[str]:
    """`METHOD /path` of every operation in the merchant API's OpenAPI document."""
    document = json.loads((ROOT / "contracts" / "merchant-api.openapi.json").read_text())
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    )


def serverless_routes() -> list[str]:
    """`METHOD /path` of every http event of every function service (`ANY` included: it is
    the route of the 405 answers)."""
    routes = []
    for document in serverless_documents().values():
        for function in (document.get("functions") or {}).values():
            for event in function.get("events") or []:
                http = event.get("http") if isinstance(event, dict) else None
                if http:
                    routes.append(f"{http['method'].upper()} /{http['path'].lstrip('/')}")
    return sorted(routes)


def simulator_routes() -> list[str]:
    """`METHOD /path` of every route of the bank simulator, path parameters as `{}`."""
    if str(SIMULATOR) not in sys.path:
        sys.path.insert(0, str(SIMULATOR))
    from banksim.http_api import ROUTES

    return sorted(
        f"{method} {NAMED_GROUP.sub('{}', pattern.pattern)}" for method, pattern, _ in ROUTES
    )


def without_parameter_names(text: str) -> str:
    """`/payments/{payment_request_id}` -> `/payments/{}`."""
    return re.sub(r"\{\w+\}", "{}", text)


def test_the_route_lists_are_not_empty() -> None:
    """The three route sources are read (guards against a vacuous pass below)."""
    assert {"POST /merchant/{merchant_id}/payments"} <= set(openapi_routes())
    assert {"POST /bank/payment-updates", "ANY /merchant/{merchant_id}/payments"} <= set(
        serverless_routes()
    )
    assert {"POST /payments", "GET /payments/{}", "PUT /_sim/faults"} <= set(simulator_routes())


@pytest.mark.parametrize("route", openapi_routes())
def test_every_openapi_operation_is_in_the_api_doc(route: str) -> None:
    """Each operation of contracts/merchant-api.openapi.json is documented in docs/api.md."""
    assert route in doc_text(API_DOC)


@pytest.mark.parametrize("route", serverless_routes())
def test_every_http_event_of_every_service_is_documented(route: str) -> None:
    """Each http event of services/*/serverless.yml is in docs/api.md or docs/bank-contract.md."""
    assert route in doc_text(API_DOC, BANK_DOC)


@pytest.mark.parametrize("route", simulator_routes())
def test_every_simulator_route_is_in_the_bank_contract(route: str) -> None:
    """Each route of the bank simulator (banksim/http_api.py) is in docs/bank-contract.md."""
    assert route in without_parameter_names(doc_text(BANK_DOC))


# -- error codes ----------------------------------------------------------------------


def http_errors_raised(paths: list[Path]) -> set[tuple[int | None, str]]:
    """(status, code) of every `HttpError(status, code, ...)` with literal arguments in
    `paths`."""
    found: set[tuple[int | None, str]] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id != "HttpError" or len(node.args) < 2:
                continue
            status, code = node.args[:2]
            if isinstance(status, ast.Constant) and isinstance(code, ast.Constant):
                found.add((int(status.value), str(code.value)))
    return found


def openapi_errors() -> set[tuple[int | None, str]]:
    """(status, code) of every error answer of the OpenAPI document's operations."""
    document = json.loads((ROOT / "contracts" / "merchant-api.openapi.json").read_text())
    components = document["components"]["responses"]
    found: set[tuple[int | None, str]] = set()
    for operations in document["paths"].values():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            for status, answer in operation["responses"].items():
                name = answer.get("$ref", "").rpartition("/")[2]
                if name in components:
                    example = components[name]["content"]["application/json"]["example"]
                    found.add((int(status), example["error"]["code"]))
    return found


def gateway_responses(service: str) -> set[tuple[int | None, str]]:
    """(status, code) of a service's API Gateway gateway responses (status None when API
    Gateway's own status is kept)."""
    resources = (serverless_documents()[service].get("resources") or {}).get("Resources") or {}
    found: set[tuple[int | None, str]] = set()
    for resource in resources.values():
        # A resource given as `${file(...)}` (the log groups' KMS key) is resolved only when
        # packaging: here it is a string, not a resource to look into.
        if (
            isinstance(resource, dict)
            and resource.get("Type") == "AWS::ApiGateway::GatewayResponse"
        ):
            properties = resource["Properties"]
            body = json.loads(properties["ResponseTemplates"]["application/json"])
            status = properties.get("StatusCode")
            found.add((int(status) if status else None, body["error"]["code"]))
    return found


def gateway_errors() -> list[tuple[str, int | None, str]]:
    """(document, status, code) of every error the gateway answers, with the document that
    must list it: the merchant API's in docs/api.md, the callback API's in
    docs/bank-contract.md, and the request hygiene both APIs share in both."""
    kernel = ROOT / "shared_kernel"
    handlers = sorted((ROOT / "services" / "merchant-api").glob("*/*.py"))
    by_doc = {
        API_DOC: http_errors_raised([kernel / "api" / "merchant.py", *handlers])
        | openapi_errors()
        | gateway_responses("merchant-api"),
        BANK_DOC: http_errors_raised(
            [
                kernel / "api" / "bank_callback.py",
                *sorted((ROOT / "services" / "bank-callback").glob("*/*.py")),
            ]
        ),
    }
    shared = http_errors_raised([kernel / "adapters" / "apigateway.py"])
    found = {
        (doc.name, status, code)
        for doc, errors in by_doc.items()
        for status, code in errors | shared
    }
    return sorted(found, key=lambda error: (error[0], error[1] or 0, error[2]))


def contract_error_codes() -> list[str]:
    """The codes of contracts/error.schema.json."""
    schema = json.loads((ROOT / "contracts" / "error.schema.json").read_text())
    return list(schema["properties"]["error"]["properties"]["code"]["enum"])


def simulator_error_codes() -> tuple[list[tuple[int, str]], list[str]]:
    """(status, code) of every `Answer(status, error_body(code, ...))` of the bank simulator,
    and every code it passes to `error_body` at all."""
    pairs: set[tuple[int, str]] = set()
    codes: set[str] = set()
    for path in sorted((SIMULATOR / "banksim").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                continue
            args = node.args
            if node.func.id == "error_body" and args and isinstance(args[0], ast.Constant):
                codes.add(str(args[0].value))
            if (
                node.func.id == "Answer"
                and len(args) >= 2
                and isinstance(args[0], ast.Constant)
                and isinstance(args[1], ast.Call)
                and isinstance(args[1].func, ast.Name)
                and args[1].func.id == "error_body"
                and isinstance(args[1].args[0], ast.Constant)
            ):
                pairs.add((int(args[0].value), str(args[1].args[0].value)))
    return sorted(pairs), sorted(codes)


def test_the_error_code_lists_are_not_empty() -> None:
    """The code sources are read (guards against a vacuous pass below)."""
    assert {
        ("api.md", 405, "method_not_allowed"),
        ("api.md", 422, "idempotency_key_reused"),
        ("api.md", 429, "throttled"),
        ("bank-contract.md", 409, "invalid_transition"),
        ("bank-contract.md", 415, "unsupported_media_type"),
    } <= set(gateway_errors())
    assert {"validation_error", "internal_error"} <= set(contract_error_codes())
    pairs, codes = simulator_error_codes()
    assert (503, "service_unavailable") in pairs
    assert "internal_error" in codes


@pytest.mark.parametrize(("doc", "status", "code"), gateway_errors())
def test_every_error_the_gateway_answers_is_in_its_errors_table(
    doc: str, status: int | None, code: str
) -> None:
    """Each (status, code) an API can answer (raised in its code, in the OpenAPI document or
    a gateway response) is a row of that API's errors table."""
    assert documented(status, code, table_rows(doc_text(ROOT / "docs" / doc)))


@pytest.mark.parametrize("code", contract_error_codes())
def test_every_contract_error_code_is_in_an_errors_table(code: str) -> None:
    """Each code of contracts/error.schema.json is a row of an errors table in the docs."""
    assert documented(None, code, table_rows(doc_text(API_DOC, BANK_DOC)))


@pytest.mark.parametrize(("status", "code"), simulator_error_codes()[0])
def test_every_simulator_error_is_in_the_bank_contract(status: int, code: str) -> None:
    """Each (status, code) answer of the bank simulator is a row of docs/bank-contract.md."""
    assert documented(status, code, table_rows(doc_text(BANK_DOC)))


@pytest.mark.parametrize("code", simulator_error_codes()[1])
def test_every_simulator_error_code_is_in_the_bank_contract(code: str) -> None:
    """Each error code the bank simulator uses is a row of docs/bank-contract.md."""
    assert documented(None, code, table_rows(doc_text(BANK_DOC)))


# -- a repository that stands on its own ----------------------------------------------


def tracked_files() -> list[Path]:
    """Every file git tracks in this repository."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listing.decode().split("\0") if name]


def outside_references(path: Path) -> list[str]:
    """What in one tracked file points outside the repository: a symlink's target, or the
    lines naming an outside path."""
    if path.is_symlink():
        target = path.resolve()
        return [] if target.is_relative_to(ROOT) else [f"symlink to {target}"]
    data = path.read_bytes()
    if b"\0" in data:
        return []  # binary
    text = data.decode("utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown document."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def broken_links(path: Path) -> list[str]:
    """The relative links of a Markdown file whose file, or heading, does not exist here."""
    broken = []
    markdown = path.read_text(encoding="utf-8")
    for target in MARKDOWN_LINK.findall(markdown):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.is_relative_to(ROOT) or not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md":
            if anchor not in heading_anchors(linked.read_text(encoding="utf-8")):
                broken.append(target)
    return broken


def missing_paths(path: Path, top_folders: set[str]) -> list[str]:
    """The repository paths a Markdown file names in backticks (`local/edge/`,
    `shared_kernel/api/merchant.py:12`) that do not exist and are not generated (git-ignored)
    files; names with placeholders (`<name>`, `{id}`, `*`) are patterns, not paths."""
    missing = []
    for name in BACKTICKED.findall(path.read_text(encoding="utf-8")):
        if "/" not in name or name.split("/")[0] not in top_folders or PLACEHOLDER.search(name):
            continue
        relative = name.split(":")[0].split("#")[0].rstrip("/")
        if not (ROOT / relative).exists():
            ignored = subprocess.run(["git", "check-ignore", "-q", relative], cwd=ROOT)
            if ignored.returncode != 0:
                missing.append(name)
    return missing


def test_the_tracked_files_are_listed() -> None:
    """git lists the repository's files (guards against a vacuous pass below)."""
    names = {path.relative_to(ROOT).as_posix() for path in tracked_files()}
    assert {"README.md", "docs/api.md", "Makefile", "shared_kernel/schemas"} <= names


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    """No tracked file names the sibling shared folder, the machine's work tree or the
    documents outside, and no symlink leaves the repository."""
    found = {
        path.relative_to(ROOT).as_posix(): refs
        for path in tracked_files()
        if (refs := outside_references(path))
    }
    assert {} == found


def test_every_relative_link_in_the_docs_resolves_inside_the_repository() -> None:
    """Each relative link of every tracked Markdown file names a file (and heading) here."""
    found = {
        path.relative_to(ROOT).as_posix(): links
        for path in tracked_files()
        if path.suffix == ".md" and (links := broken_links(path))
    }
    assert {} == found


def test_every_repository_path_the_docs_name_exists() -> None:
    """Each path of this repository a tracked Markdown file names in backticks exists."""
    files = tracked_files()
    relative = [path.relative_to(ROOT).parts for path in files]
    top_folders = {parts[0] for parts in relative if len(parts) > 1}
    found = {
        path.relative_to(ROOT).as_posix(): names
        for path in files
        if path.suffix == ".md" and (names := missing_paths(path, top_folders))
    }
    assert {} == found
