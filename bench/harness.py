"""In-process harness of the warm and request-count sections: a bank stub, the handlers
loaded from their files, realistic API Gateway and SQS events, and a recorder of every AWS
call made by any botocore client (boto3's and PynamoDB's)."""

from __future__ import annotations

import importlib.util
import json
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import HANDLER_ATTRIBUTES, REGION, LambdaContext, handler_path

Handler = Callable[[dict[str, Any], Any], Any]
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:gateway-local-payments-to-bank"

# -- the bank --------------------------------------------------------------------------------

WEBHOOK_PATH = "/webhooks"


class _BankHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answer in one segment, as a production HTTP server does: no Nagle/delayed-ACK stalls
    # that would be the stub's, not the gateway's.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: BankStub

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path.startswith(WEBHOOK_PATH):  # a merchant's receiver
            self.server.webhooks.append((time.time(), raw))
            self._answer(200, {"received": True})
            return
        body = json.loads(raw or b"{}")
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        if self.path.rsplit("/", 1)[-1] in ("captures", "voids", "refunds"):
            self._answer(202, {"action_id": body.get("action_id"), "status": "PROCESSING"})
            return
        self._answer(
            202,
            {
                "payment_request_id": body.get("payment_request_id"),
                "bank_reference": "bank_" + secrets.token_hex(6),
                "status": "PROCESSING",
            },
        )

    def do_GET(self) -> None:
        self._answer(404, {"error": {"code": "not_found", "message": "unknown", "details": []}})

    def _answer(self, status: int, document: object) -> None:
        raw = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        return


class BankStub(ThreadingHTTPServer):
    """An acquiring bank that accepts every payment and action after `delay_s` (202
    PROCESSING); under WEBHOOK_PATH, a merchant's webhook receiver answering 200 (each
    delivery kept with its arrival time)."""

    daemon_threads = True
    request_queue_size = 128  # a batch of ten connects at once; the default backlog is 5

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BankHandler)
        self.delay_s = 0.0
        self.webhooks: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> BankStub:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.shutdown()
        self.server_close()


# -- handlers and events ---------------------------------------------------------------------


def load_handler(name: str) -> Handler:
    """The `handler` function of a handler module, loaded from its file under a unique name
    (so the bench needs no service folder on `sys.path`)."""
    spec = importlib.util.spec_from_file_location(f"bench_handler_{name}", handler_path(name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    function: Handler = getattr(module, HANDLER_ATTRIBUTES.get(name, "handler"))
    return function


class Gateways:
    """One `Gateway` per function, swapped in before each of its invocations: in AWS each
    function runs in its own process, so its clients and caches (secrets, data keys) are
    its own; sharing one here would hide the calls each function makes for itself."""

    def __init__(self) -> None:
        self._by_function: dict[str, Any] = {}

    def use(self, function: str) -> None:
        """Make `function`'s Gateway the process's `gateway()`."""
        from shared_kernel import bootstrap
        from shared_kernel.settings import Settings

        if function not in self._by_function:
            self._by_function[function] = bootstrap.build_gateway(Settings.from_env())
        bootstrap._gateway = self._by_function[function]


GATEWAYS = Gateways()


def invoke(name: str, handler: Handler, event: dict[str, Any]) -> Any:
    """Invoke a handler as its own function would be invoked."""
    GATEWAYS.use(name)
    return handler(event, context(name))


def context(name: str) -> LambdaContext:
    """A Lambda context for one invocation."""
    return LambdaContext(function_name=f"bench-{name}", aws_request_id=str(uuid.uuid4()))


def _api_event(
    method: str,
    resource: str,
    path: str,
    path_parameters: dict[str, str] | None,
    headers: dict[str, str],
    body: str | None,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/local{path}",
            "accountId": "123456789012",
            "apiId": "bench0api1",
            "stage": "local",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "bench"},
            **({"authorizer": authorizer} if authorizer is not None else {}),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _merchant_authorizer(merchant_id: str) -> dict[str, Any]:
    return {"merchant_id": merchant_id, "principalId": merchant_id, "integrationLatency": 12}


def submit_event(
    merchant_id: str,
    api_key: str,
    *,
    idempotency_key: bool = True,
    capture_method: str | None = None,
) -> dict[str, Any]:
    """POST /merchant/{merchant_id}/payments with a valid body, as API Gateway sends it;
    with a new, unique Idempotency-Key unless `idempotency_key` is False."""
    body: dict[str, Any] = {
        "card_number": "4242424242424242",
        "expiry_month": 12,
        "expiry_year": 2030,
        "cvv": "123",
        "amount": 1050,
        "currency": "GBP",
        "reference": "order-" + secrets.token_hex(4),
    }
    if capture_method is not None:
        body["capture_method"] = capture_method
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "X-Correlation-Id": "bench-" + secrets.token_hex(6),
        "Host": "api.example",
    }
    if idempotency_key:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return _api_event(
        "POST",
        "/merchant/{merchant_id}/payments",
        f"/merchant/{merchant_id}/payments",
        {"merchant_id": merchant_id},
        headers,
        json.dumps(body),
        _merchant_authorizer(merchant_id),
    )


def get_event(merchant_id: str, api_key: str, payment_id: str) -> dict[str, Any]:
    """GET /merchant/{merchant_id}/payment/{payment_id}, as API Gateway sends it."""
    return _api_event(
        "GET",
        "/merchant/{merchant_id}/payment/{payment_id}",
        f"/merchant/{merchant_id}/payment/{payment_id}",
        {"merchant_id": merchant_id, "payment_id": payment_id},
        {"Authorization": f"Bearer {api_key}", "Host": "api.example"},
        None,
        _merchant_authorizer(merchant_id),
    )


def action_event(
    merchant_id: str, api_key: str, payment_id: str, route: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST /merchant/{merchant_id}/payment/{payment_id}/<route> (capture, void, refunds),
    without an Idempotency-Key, as API Gateway sends it."""
    resource = f"/merchant/{{merchant_id}}/payment/{{payment_id}}/{route}"
    return _api_event(
        "POST",
        resource,
        f"/merchant/{merchant_id}/payment/{payment_id}/{route}",
        {"merchant_id": merchant_id, "payment_id": payment_id},
        {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "X-Correlation-Id": "bench-" + secrets.token_hex(6),
            "Host": "api.example",
        },
        json.dumps(body),
        _merchant_authorizer(merchant_id),
    )


def list_event(merchant_id: str, api_key: str) -> dict[str, Any]:
    """GET /merchant/{merchant_id}/payments (the first page, default size)."""
    return _api_event(
        "GET",
        "/merchant/{merchant_id}/payments",
        f"/merchant/{merchant_id}/payments",
        {"merchant_id": merchant_id},
        {"Authorization": f"Bearer {api_key}", "Host": "api.example"},
        None,
        _merchant_authorizer(merchant_id),
    )


def webhook_endpoint_event(merchant_id: str, api_key: str, url: str) -> dict[str, Any]:
    """POST /merchant/{merchant_id}/webhook-endpoints for every event type."""
    return _api_event(
        "POST",
        "/merchant/{merchant_id}/webhook-endpoints",
        f"/merchant/{merchant_id}/webhook-endpoints",
        {"merchant_id": merchant_id},
        {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Host": "api.example",
        },
        json.dumps({"url": url, "enabled_events": ["*"]}),
        _merchant_authorizer(merchant_id),
    )


def authorizer_event(api_key: str, merchant_id: str) -> dict[str, Any]:
    """A TOKEN authorizer event."""
    return {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {api_key}",
        "methodArn": (
            f"arn:aws:execute-api:{REGION}:123456789012:bench0api1/local/POST/"
            f"merchant/{merchant_id}/payments"
        ),
    }


def callback_event(
    secret: str, payment_id: str, merchant_id: str, status: str = "PAID"
) -> dict[str, Any]:
    """POST /bank/payment-updates, signed like the bank signs it."""
    update = {
        "payment_request_id": payment_id,
        "merchant_id": merchant_id,
        "status": status,
        "bank_reference": "bank_" + secrets.token_hex(6),
    }
    return _bank_callback(secret, "/bank/payment-updates", update)


def action_update_event(
    secret: str, payment_id: str, merchant_id: str, action_id: str, kind: str
) -> dict[str, Any]:
    """POST /bank/action-updates: the action `action_id` of type `kind` SUCCEEDED, signed."""
    update = {
        "payment_request_id": payment_id,
        "merchant_id": merchant_id,
        "action_id": action_id,
        "type": kind,
        "status": "SUCCEEDED",
    }
    return _bank_callback(secret, "/bank/action-updates", update)


def _bank_callback(secret: str, path: str, update: dict[str, Any]) -> dict[str, Any]:
    """A POST of `update` (stamped `occurred_at` now) to the callback API, signed."""
    from shared_kernel.adapters.bank.signature import sign

    document = {**update, "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = json.dumps(document, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json",
        "X-Bank-Signature": sign(secret, int(time.time()), body.encode()),
        "Host": "callback.example",
    }
    return _api_event("POST", path, path, None, headers, body, None)


def sqs_event(
    messages: list[tuple[str, str, str]], receive_count: int = 1, action_id: str | None = None
) -> dict[str, Any]:
    """An SQS event of (payment_id, merchant_id, correlation_id) queue messages (each naming
    `action_id`, if given: a capture, void or refund to send)."""
    now = datetime.now(UTC)
    records = []
    for payment_id, merchant_id, correlation_id in messages:
        body = {
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "correlation_id": correlation_id,
            "enqueued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if action_id is not None:
            body["action_id"] = action_id
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": secrets.token_urlsafe(48),
                "body": json.dumps(body, separators=(",", ":")),
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": str(int(now.timestamp() * 1000)),
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": str(int(now.timestamp() * 1000)),
                },
                "messageAttributes": {
                    "correlation_id": {"stringValue": correlation_id, "dataType": "String"}
                },
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


# -- recording AWS calls ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One AWS API call: service, operation and the parameters that price it."""

    service: str
    operation: str
    table: str | None = None
    index: str | None = None
    consistent: bool = False


@dataclass
class Recorder:
    """Records every AWS call made while `active` is set, from botocore's events on every
    client created after `install()` (boto3's, PynamoDB's, any other library's), but those
    created under `unrecorded()` (the bench's own). For DynamoDB it also keeps the items each
    read returned, and calls `on_write(table, params)` before each write is sent."""

    calls: list[Call] = field(default_factory=list)
    active: bool = False
    clients: int = 0
    # (table, strongly consistent, the items returned) of each DynamoDB read while active.
    reads: list[tuple[str | None, bool, list[dict[str, Any]]]] = field(default_factory=list)
    on_write: Callable[[str, dict[str, Any]], None] | None = None
    hooking: bool = True

    def install(self) -> None:
        """Hook `before-parameter-build` and `before-call` on every botocore client created
        from now on."""
        import botocore.session

        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            if not recorder.hooking:
                return client
            events = client.meta.events
            events.register("before-parameter-build.*.*", recorder._params)
            events.register("before-call.*.*", recorder._call)
            events.register("after-call.dynamodb.*", recorder._returned)
            recorder.clients += 1
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign,assignment]

    @staticmethod
    def _params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def unrecorded(self, make: Callable[[], Any]) -> Any:
        """A client made by `make` whose calls are never recorded."""
        self.hooking = False
        try:
            return make()
        finally:
            self.hooking = True

    def _returned(self, parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.active or not isinstance(parsed, dict):
            return
        items = [parsed["Item"]] if "Item" in parsed else list(parsed.get("Items") or [])
        if model.name in ("GetItem", "Query", "Scan"):
            params = context.get("bench_params") or {}
            self.reads.append((params.get("TableName"), bool(params.get("ConsistentRead")), items))

    def _call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        params = context.get("bench_params") or {}
        if (
            self.on_write is not None
            and model.service_model.service_name == "dynamodb"
            and model.name in ("PutItem", "UpdateItem", "DeleteItem")
        ):
            self.on_write(str(params.get("TableName")), params)
        self.calls.append(
            Call(
                service=model.service_model.service_name,
                operation=model.name,
                table=params.get("TableName"),
                index=params.get("IndexName"),
                consistent=bool(params.get("ConsistentRead")),
            )
        )

    def take(self) -> list[Call]:
        """The calls recorded so far, clearing them."""
        calls, self.calls = self.calls, []
        return calls

    def take_reads(self) -> list[tuple[str | None, bool, list[dict[str, Any]]]]:
        """The DynamoDB reads' items recorded so far, clearing them."""
        reads, self.reads = self.reads, []
        return reads
