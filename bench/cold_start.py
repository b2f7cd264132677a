"""Cold start per handler: fresh processes, handler vs floor, whole-process wall time.

Method: the parent times each fresh `python -c ...` process from spawn to exit
(`time.perf_counter` around `subprocess.run`), so both sides include the same interpreter
start-up, as a Lambda cold start does. The handler side imports the handler module and does
the bootstrap work of a first invocation: `gateway()`, the use case (or adapters) the handler
needs, the clients they create, and one read of each table the first invocation reads
(PynamoDB creates a model's botocore session and client on its first request, and there is
no public way to have it do so earlier). The floor imports boto3, creates the clients that
handler needs and makes the same number of DynamoDB reads, nothing else. The reads go to a
stub endpoint in this process that answers every request with an empty item, so both sides
pay one local round trip per read. Runs alternate handler/floor; one discarded warm-up of
each fills the bytecode caches; rounds go over every handler in turn. The children also
report their own phases (import / build), which tell what dominates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import DUMMY_CREDENTIALS, HANDLERS, REGION, ROOT, handler_path, median

# The tables each handler's first invocation reads (each through a PynamoDB model of its own).
TABLES: dict[str, list[str]] = {
    "authorizer": ["api_keys"],
    "submit_payment": ["idempotency", "payments"],
    "get_payment": ["payments"],
    "forward": ["payments"],
    "reconcile": ["payments"],
    "payment_updates": ["payments"],
}
# What a first invocation builds (gateway attributes), and the clients that means.
BUILD: dict[str, tuple[list[str], list[str]]] = {
    "authorizer": (["merchants", "secrets"], ["dynamodb", "secretsmanager"]),
    # The idempotency store (if the gateway has one) is built by a first POST too.
    "submit_payment": (["submit_once_per_key", "idempotency"], ["dynamodb", "sqs", "kms"]),
    "get_payment": (["get_payment"], ["dynamodb"]),
    "forward": (["forward_delivery"], ["dynamodb", "kms"]),
    "reconcile": (["reconcile"], ["dynamodb", "sqs"]),
    "payment_updates": (["secrets", "apply_bank_update"], ["dynamodb", "secretsmanager"]),
}

_HANDLER_CHILD = """
import time
t0 = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_cold_handler", {path!r})
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
t1 = time.perf_counter()
from shared_kernel.bootstrap import gateway
app = gateway()
for name in {build!r}:
    if hasattr(type(app), name):
        getattr(app, name)
# One read of each table, as the first invocation makes: PynamoDB builds each model's
# botocore session and client on its first request.
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
    else:
        app.idempotency.get("bench#first-read")
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "build": t2 - t1, "modules": len(sys.modules)}}))
"""

_FLOOR_CHILD = """
import time
t0 = time.perf_counter()
import json, sys
import boto3
t1 = time.perf_counter()
session = boto3.session.Session(region_name={region!r})
clients = {{name: session.client(name) for name in {clients!r}}}
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
            "POWERTOOLS_SERVICE_NAME": "bench",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return env


def _run(code: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
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
    """Cold start of every handler against its floor, `runs` fresh processes each.

    Round-robin: each round runs every handler and its floor once, so a burst of other
    work on the machine lands on one round of every handler (which the median drops), not
    on all the runs of one handler."""
    with _stub_endpoint() as endpoint:
        return _measure(runs, _env(endpoint))


def _measure(runs: int, env: dict[str, str]) -> list[ColdStart]:
    interpreter: list[float] = []
    codes: dict[str, tuple[str, str]] = {}
    for name in HANDLERS:
        build, clients = BUILD[name]
        codes[name] = (
            _HANDLER_CHILD.format(path=str(handler_path(name)), build=build, tables=TABLES[name]),
            _FLOOR_CHILD.format(region=REGION, clients=clients, tables=TABLES[name]),
        )
        for code in codes[name]:
            _run(code, env)  # warm-up: bytecode caches
    handler_runs: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in HANDLERS}
    floor_runs: dict[str, list[tuple[float, dict[str, Any]]]] = {n: [] for n in HANDLERS}
    for _ in range(runs):
        interpreter.append(_run("print('{}')", env)[0])
        for name, (handler_code, floor_code) in codes.items():
            handler_runs[name].append(_run(handler_code, env))
            floor_runs[name].append(_run(floor_code, env))
    results: list[ColdStart] = []
    for name in HANDLERS:
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
