"""Cold start per function: fresh processes from the deployment package's layout, handler vs
floor, whole-process wall time.

Conditions as in Lambda: each service is packaged with `osls package` (`bench.packages`), its
zip unpacked into a read-only folder (the function's /var/task), and every child runs with
`-B` and PYTHONDONTWRITEBYTECODE=1. The zip ships each module's bytecode beside its source
(services/plugins/ship-bytecode.js: unchecked-hash `.pyc`, as Lambda cannot cache any), so
the children load it and compile nothing. `-S` keeps the venv's site-packages out: the path
is the package, then the runtime's own SDK (boto3, botocore and their dependencies, which the
Lambda runtime provides and the packages leave out), linked from the venv with its bytecode,
as the runtime has it. After the runs the package folders are checked to hold only the
bytecode they were unpacked with: none is written.

The handler side imports the handler module named by the function's `handler` in its
template (as Lambda does), and does the bootstrap work of a first invocation: `gateway()`,
the use case (or adapters) the handler needs, the clients they create, and one read of each
table the first invocation reads (PynamoDB creates a model's botocore session and client on
its first request, and there is no public way to have it do so earlier). The floor is an
empty function on the same runtime that creates the same botocore clients from one botocore
session (the library the product uses) and makes the same number of DynamoDB reads. The
reads go to a stub endpoint in this process that answers every request with an empty item,
so both sides pay one local round trip per read. Every function of every service template
is measured; one without a recipe here fails the section. Runs alternate handler/floor in
rounds over every function; one discarded warm-up of each fills the page cache. The
children also report their phases (import / build).
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import DUMMY_CREDENTIALS, REGION, ROOT, median

# The tables each handler's first invocation reads (each through a PynamoDB model of its own).
TABLES: dict[str, list[str]] = {
    "authorizer": ["api_keys"],
    "submit_payment": ["idempotency", "payments"],
    "get_payment": ["payments"],
    "list_payments": ["payments"],
    "forward": ["payments"],
    "reconcile": ["payments"],
    "payment_updates": ["payments"],
    "method_not_allowed": [],
    "request_action": ["idempotency", "payments"],
    "get_action": ["payments"],
    "list_actions": ["payments"],
    "action_updates": ["payments"],
    "list_events": ["events"],
    "get_event": ["events"],
    "create_webhook_endpoint": ["webhook_endpoints"],
    "list_webhook_endpoints": ["webhook_endpoints"],
    "delete_webhook_endpoint": ["webhook_endpoints"],
    "rotate_webhook_secret": ["webhook_endpoints"],
    "list_deliveries": ["events"],
    "resend_event": ["events", "webhook_endpoints"],
    "record": ["events"],
    "deliver": ["events", "webhook_endpoints"],
}
# What a first invocation builds (gateway attributes), and the clients that means.
BUILD: dict[str, tuple[list[str], list[str]]] = {
    "authorizer": (["merchants", "secrets"], ["dynamodb", "secretsmanager"]),
    # The idempotency store is built by a first POST too.
    "submit_payment": (["submit_once_per_key", "idempotency"], ["dynamodb", "sqs", "kms"]),
    "get_payment": (["get_payment"], ["dynamodb"]),
    "list_payments": (["list_payments"], ["dynamodb"]),
    "forward": (["forward_delivery"], ["dynamodb", "kms"]),
    "reconcile": (["reconcile"], ["dynamodb", "sqs"]),
    "payment_updates": (["secrets", "apply_bank_update"], ["dynamodb", "secretsmanager"]),
    "method_not_allowed": ([], []),
    # The three routes of one module (capture, void, refunds): a first capture builds its
    # use case and the idempotency store.
    "request_action": (["request_capture", "idempotency"], ["dynamodb", "sqs"]),
    "get_action": (["get_action"], ["dynamodb"]),
    "list_actions": (["list_actions"], ["dynamodb"]),
    "action_updates": (["secrets", "apply_action_update"], ["dynamodb", "secretsmanager"]),
    "list_events": (["list_events"], ["dynamodb"]),
    "get_event": (["get_event"], ["dynamodb"]),
    "create_webhook_endpoint": (["create_webhook_endpoint", "url_guard"], ["dynamodb", "kms"]),
    "list_webhook_endpoints": (["list_webhook_endpoints"], ["dynamodb"]),
    "delete_webhook_endpoint": (["delete_webhook_endpoint"], ["dynamodb"]),
    "rotate_webhook_secret": (["rotate_webhook_secret"], ["dynamodb", "kms"]),
    "list_deliveries": (["list_deliveries"], ["dynamodb"]),
    "resend_event": (["resend_event"], ["dynamodb", "sqs"]),
    "record": (["record_events"], ["dynamodb", "sqs"]),
    # A first delivery builds both use cases of the sender's queue (fan-out and delivery).
    "deliver": (["fan_out_event", "deliver_to_endpoint"], ["dynamodb", "sqs", "kms"]),
}
# What the Lambda Python runtime provides beside the package: the AWS SDK and the
# libraries it needs (the packages leave boto3, botocore, s3transfer and jmespath out).
RUNTIME_SDK = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

_HANDLER_CHILD = """
import time
t0 = time.perf_counter()
import importlib, json, sys
module = importlib.import_module({module!r})
getattr(module, {function!r})
t1 = time.perf_counter()
if {build!r}:  # a function that needs no AWS client never builds the Gateway
    from shared_kernel.bootstrap import gateway
    app = gateway()
for name in {build!r}:
    getattr(app, name)  # a Gateway attribute renamed away fails the child, loudly
# One read of each table, as the first invocation makes: PynamoDB builds each model's
# botocore session and client on its first request.
if {tables!r}:
    from uuid import uuid4
    from shared_kernel.domain.errors import PaymentNotFound
for table in {tables!r}:
    if table == "payments":
        try:
            app.payments.get(uuid4())
        except PaymentNotFound:
            pass
    elif table == "api_keys":
        app.merchants.merchant_for("00" * 32)
    elif table == "events":
        app.events.get(uuid4(), uuid4())
    elif table == "webhook_endpoints":
        app.webhook_endpoints.get(uuid4(), uuid4())
    else:
        app.idempotency.get("bench#first-read")
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "build": t2 - t1, "modules": len(sys.modules)}}))
"""

_FLOOR_CHILD = """
import time
t0 = time.perf_counter()
import json, sys
names = {clients!r}
if names:
    from botocore.config import Config
    from botocore.session import get_session
t1 = time.perf_counter()
if names:
    session = get_session()
    config = Config()
    clients = {{
        name: session.create_client(name, region_name={region!r}, config=config)
        for name in names
    }}
for table in {tables!r}:
    clients["dynamodb"].get_item(TableName=table, Key={{"pk": {{"S": "bench"}}}})
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "build": t2 - t1, "modules": len(sys.modules)}}))
"""


@dataclass
class ColdStart:
    """One handler's cold start against its floor (seconds, medians)."""

    handler: str
    runs: int
    handler_s: float
    floor_s: float
    ratio: float
    handler_import_s: float
    handler_build_s: float
    floor_import_s: float
    floor_build_s: float
    handler_modules: int
    floor_modules: int
    interpreter_s: float
    target_ratio: float = 1.25

    @property
    def met(self) -> bool:
        """Whether the target ratio is met."""
        return self.ratio <= self.target_ratio


class _EmptyItems(BaseHTTPRequestHandler):
    """Answers every DynamoDB request with `{}` (GetItem: no such item)."""

    def do_POST(self) -> None:
        """Read the request, answer an empty JSON object."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def _stub_endpoint() -> Iterator[str]:
    """The URL of a local endpoint answering every request with an empty item, while open."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyItems)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(DUMMY_CREDENTIALS)
    env.update(
        {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "STAGE": "local",
            "PAYMENTS_TABLE": "gateway-local-payments",
            "MERCHANTS_TABLE": "gateway-local-merchants",
            "PAYMENT_QUEUE_URL": "http://127.0.0.1:9/123456789012/gateway-local-payments-to-bank",
            "CARD_KEY_ID": "alias/gateway-local-cards",
            "BANK_URL": "http://127.0.0.1:9",
            "BANK_API_KEY_SECRET_ID": "gateway-local/bank-api-key",
            "CALLBACK_SECRET_ID": "gateway-local/bank-callback-secret",
            "API_KEY_PEPPER_SECRET_ID": "gateway-local/api-key-pepper",
            "CARD_FINGERPRINT_KEY_SECRET_ID": "gateway-local/card-fingerprint-key",
            "IDEMPOTENCY_TABLE": "gateway-local-idempotency",
            "EVENTS_TABLE": "gateway-local-events",
            "WEBHOOK_ENDPOINTS_TABLE": "gateway-local-webhook-endpoints",
            "WEBHOOK_SECRET_KEY_ID": "alias/gateway-local-webhook-secrets",
            "DELIVERIES_TABLE": "gateway-local-webhook-deliveries",
            "WEBHOOK_QUEUE_URL": "http://127.0.0.1:9/123456789012/gateway-local-webhooks",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return env


@dataclass(frozen=True)
class Function:
    """A function of a service template, and where its package was unpacked."""

    service: str
    name: str  # the bench's name: the handler module's file name
    module: str  # as Lambda imports it, from the template's `handler`
    function: str  # the module's attribute the template names (`handler`, `capture`, ...)
    task: Path


def template_functions() -> list[tuple[str, str, str, str]]:
    """(service, bench name, module, attribute) of every handler module the service
    templates name (a module that serves several functions, as the capture, void and refund
    routes' does, once: its cold start is its import)."""
    from bench.packages import SERVICES
    from local.cloudformation import load_yaml

    found: list[tuple[str, str, str, str]] = []
    for service in SERVICES:
        document = load_yaml(ROOT / "services" / service / "serverless.yml")
        for function in (document.get("functions") or {}).values():
            path, attribute = str(function["handler"]).rsplit(".", 1)
            module = path.replace("/", ".")
            if all(module != seen for _, _, seen, _ in found):
                found.append((service, module.rsplit(".", 1)[1], module, attribute))
    missing = sorted(name for _, name, _, _ in found if name not in BUILD or name not in TABLES)
    if missing:
        raise RuntimeError(f"no cold-start recipe (BUILD, TABLES) for functions {missing}")
    return found


def _read_only(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _bytecode(folder: Path) -> list[str]:
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name == "__pycache__" or p.suffix in {".pyc", ".pyo"}
    )


@contextmanager
def lambda_layout() -> Iterator[tuple[list[Function], Path]]:
    """Every service packaged and unpacked read-only, and the runtime's SDK folder; the
    functions and the SDK folder. Fails if bytecode is written into a package."""
    from bench.packages import package

    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        root = Path(tmp)
        runtime = root / "runtime"
        runtime.mkdir()
        for name in RUNTIME_SDK:
            spec = importlib.util.find_spec(name)
            assert spec is not None and spec.origin is not None, name
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (runtime / source.name).symlink_to(source)
        tasks: dict[str, Path] = {}
        shipped: dict[str, set[str]] = {}
        functions = []
        try:
            for service, name, module, attribute in template_functions():
                if service not in tasks:
                    archive = package(service, root / "packages" / service)
                    tasks[service] = root / "task" / service
                    with zipfile.ZipFile(archive) as zipped:
                        zipped.extractall(tasks[service])
                    shipped[service] = set(_bytecode(tasks[service]))
                    _read_only(tasks[service])
                functions.append(Function(service, name, module, attribute, tasks[service]))
            yield functions, runtime
            written = {
                s: new for s, t in tasks.items() if (new := sorted(set(_bytecode(t)) - shipped[s]))
            }
            if written:
                raise RuntimeError(f"bytecode was written into the packages: {written}")
        finally:
            for task in tasks.values():
                for path in [task, *task.rglob("*")]:
                    if not path.is_symlink():
                        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _run(
    code: str, env: dict[str, str], path: list[Path], cwd: Path
) -> tuple[float, dict[str, Any]]:
    env = {**env, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-S", "-B", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"cold-start child failed:\n{result.stderr[-2000:]}")
    return elapsed, json.loads(result.stdout.strip().splitlines()[-1])


def measure(runs: int = 11) -> list[ColdStart]:
    """Cold start of every function against its floor, `runs` fresh processes each.

    Round-robin: each round runs every function and its floor once, so a burst of other
    work on the machine lands on one round of every function (which the median drops), not
    on all the runs of one function."""
    with _stub_endpoint() as endpoint:
        return _measure(runs, _env(endpoint))


def _measure(runs: int, env: dict[str, str]) -> list[ColdStart]:
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    with lambda_layout() as (functions, runtime):
        empty = runtime.parent / "empty-task"
        empty.mkdir()
        # (code, sys.path, cwd) of each side of each function.
        sides: dict[str, tuple[tuple[str, list[Path], Path], tuple[str, list[Path], Path]]] = {}
        for f in functions:
            build, clients = BUILD[f.name]
            tables = TABLES[f.name]
            sides[f.name] = (
                (
                    _HANDLER_CHILD.format(
                        module=f.module, function=f.function, build=build, tables=tables
                    ),
                    [f.task, runtime],
                    f.task,
                ),
                (
                    _FLOOR_CHILD.format(region=REGION, clients=clients, tables=tables),
                    [runtime],
                    empty,
                ),
            )
            for side in sides[f.name]:
                _run(side[0], env, side[1], side[2])  # warm-up: the page cache
        names = list(sides)
        handler_runs: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in names}
        floor_runs: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in names}
        interpreter: list[float] = []
        for _ in range(runs):
            interpreter.append(_run("print('{}')", env, [runtime], empty)[0])
            for name, (handler_side, floor_side) in sides.items():
                handler_runs[name].append(_run(handler_side[0], env, *handler_side[1:]))
                floor_runs[name].append(_run(floor_side[0], env, *floor_side[1:]))
    results: list[ColdStart] = []
    for name in names:
        hr, fr = handler_runs[name], floor_runs[name]
        handler_s = median([wall for wall, _ in hr])
        floor_s = median([wall for wall, _ in fr])
        results.append(
            ColdStart(
                handler=name,
                runs=runs,
                handler_s=handler_s,
                floor_s=floor_s,
                ratio=handler_s / floor_s,
                handler_import_s=median([p["import"] for _, p in hr]),
                handler_build_s=median([p["build"] for _, p in hr]),
                floor_import_s=median([p["import"] for _, p in fr]),
                floor_build_s=median([p["build"] for _, p in fr]),
                handler_modules=int(hr[-1][1]["modules"]),
                floor_modules=int(fr[-1][1]["modules"]),
                interpreter_s=median(interpreter),
            )
        )
    return results


def as_json(results: list[ColdStart]) -> list[dict[str, Any]]:
    """JSON-ready records."""
    return [{**asdict(r), "met": r.met} for r in results]


if __name__ == "__main__":
    for row in measure(3):
        print(row)
