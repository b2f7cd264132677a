"""X-Ray tracing of a real handler against moto server and a scripted bank: a sampled
invocation sends subsegments for its AWS and bank calls to the daemon address (a UDP socket
this test owns), an unsampled one imports no X-Ray code at all.

The forwarder runs in a fresh process with the environment Lambda gives it (LAMBDA_TASK_ROOT
and the invocation's `_X_AMZN_TRACE_ID`), so the SDK works as in Lambda: the segment is
Lambda's, each closed subsegment is streamed to AWS_XRAY_DAEMON_ADDRESS at once.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.bootstrap import build_gateway
from shared_kernel.settings import Settings
from tests.unit.builders import MERCHANT_ID, SPEC_BODY

from .conftest import REGION, ClientFactory, Tables, unique
from .test_bank_client import ScriptedBank, answer, bank  # noqa: F401  (the bank fixture)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-67a1b2c3-0123456789abcdef01234567"
SUBMISSION = SPEC_BODY
CARD_NUMBER = str(SPEC_BODY["card_number"])

# Runs a handler once on the event in argv[2], as Lambda would.
_INVOKE = """
import importlib.util, json, sys
from types import SimpleNamespace
spec = importlib.util.spec_from_file_location("traced_handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
context = SimpleNamespace(
    function_name="traced-function", memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:traced-function",
    aws_request_id="req-1",
)
result = module.handler(json.loads(sys.argv[2]), context)
print(json.dumps({"result": result, "xray_loaded": "aws_xray_sdk" in sys.modules}))
"""


@dataclass(frozen=True)
class Invocation:
    """What one invocation answered, whether it loaded the X-Ray SDK, and its EMF lines."""

    result: Any
    xray_loaded: bool
    emf: list[dict[str, Any]]

    def metric(self, name: str) -> dict[str, Any]:
        """The one EMF document holding metric `name`."""
        (document,) = [d for d in self.emf if name in d]
        return document


@pytest.fixture
def daemon() -> Iterator[socket.socket]:
    """A UDP socket on a free port of 127.0.0.1 standing in for the X-Ray daemon."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(0.5)
        yield listener


def received_documents(listener: socket.socket) -> list[dict[str, Any]]:
    """Every segment document sent to the daemon so far (header line, then the JSON)."""
    documents = []
    while True:
        try:
            datagram = listener.recv(65536)
        except TimeoutError:
            return documents
        header, _, document = datagram.decode().partition("\n")
        assert {"format": "json", "version": 1} == json.loads(header)
        documents.append(json.loads(document))


def subsegments(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents and every subsegment nested in them, flattened."""
    found: list[dict[str, Any]] = []
    pending = list(documents)
    while pending:
        entity = pending.pop()
        found.append(entity)
        pending.extend(entity.get("subsegments", []))
    return found


def handler_path(service: str, module: str) -> Path:
    """A handler module of a service (whatever its handlers package is named)."""
    (path,) = (ROOT / "services" / service).glob(f"*handlers/{module}.py")
    return path


def invoke_once(
    handler: Path, event: dict[str, Any], env: dict[str, str], sampled: str, daemon_port: int
) -> Invocation:
    """Run a handler once in a fresh process, as Lambda would with this trace header."""
    trace = {
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled={sampled}",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
    }
    run = subprocess.run(
        [sys.executable, "-c", _INVOKE, str(handler), json.dumps(event)],
        env={**env, **trace},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == run.returncode, run.stderr[-3000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    outcome = lines[-1]
    emf = [line for line in lines if "_aws" in line]
    return Invocation(outcome["result"], outcome["xray_loaded"], emf)


@pytest.fixture
def environment(
    tables: Tables,
    queue_url: str,
    card_key_id: str,
    aws_endpoint: str,
    aws_client: ClientFactory,
    bank: ScriptedBank,  # noqa: F811
) -> dict[str, str]:
    """The functions' environment: this test's tables, queue, key, secrets and bank."""
    secrets = aws_client("secretsmanager")
    bank_key, fingerprint_key = unique("bank-api-key"), unique("fingerprint-key")
    secrets.create_secret(Name=bank_key, SecretString="bank-secret-key")
    secrets.create_secret(Name=fingerprint_key, SecretString="fingerprint-secret")
    return {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "NO_PROXY": "127.0.0.1,localhost",
        "STAGE": "local",
        "PAYMENTS_TABLE": tables.payments,
        "MERCHANTS_TABLE": tables.merchants,
        "PAYMENT_QUEUE_URL": queue_url,
        "CARD_KEY_ID": card_key_id,
        "CARD_FINGERPRINT_KEY_SECRET_ID": fingerprint_key,
        "BANK_URL": bank.url,
        "BANK_API_KEY_SECRET_ID": bank_key,
    }


@pytest.fixture
def queued_payment(
    environment: dict[str, str],
    queue_url: str,
    aws_client: ClientFactory,
    bank: ScriptedBank,  # noqa: F811
) -> tuple[dict[str, Any], UUID]:
    """A submitted payment (stored, card sealed, queued): the forwarder's event for its queue
    message, and the payment id; the bank accepts it."""
    payment = build_gateway(Settings.from_env(environment)).submit_payment(
        MERCHANT_ID, SUBMISSION, "corr-trace-1"
    )
    bank.script(202, answer(payment.id))
    (message,) = aws_client("sqs").receive_message(QueueUrl=queue_url)["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": "1"},
    }
    return {"Records": [record]}, payment.id


def forward_with(
    sampled: str, environment: dict[str, str], event: dict[str, Any], daemon: socket.socket
) -> Invocation:
    """One forwarder invocation on `event` under a trace header with this Sampled flag."""
    env = {**environment, "POWERTOOLS_SERVICE_NAME": "bank-forwarder"}
    forward = handler_path("bank-forwarder", "forward")
    return invoke_once(forward, event, env, sampled, daemon.getsockname()[1])


def test_a_sampled_forward_traces_its_aws_and_bank_calls_and_writes_its_metrics(
    environment: dict[str, str],
    queued_payment: tuple[dict[str, Any], UUID],
    daemon: socket.socket,
    bank: ScriptedBank,  # noqa: F811
) -> None:
    """Sampled=1: subsegments for the handler, DynamoDB, KMS, Secrets Manager and the bank
    (POST /payments), in the invocation's trace; the DynamoDB and bank ones carry the payment
    and merchant ids; no card number in anything sent; the EMF lines count the forwarded
    payment and time the bank call."""
    event, payment_id = queued_payment
    outcome = forward_with("1", environment, event, daemon)

    assert ({"batchItemFailures": []}, True) == (outcome.result, outcome.xray_loaded)
    assert ["POST"] == [r.method for r in bank.requests]
    documents = received_documents(daemon)
    entities = subsegments(documents)
    names = {e["name"] for e in entities}
    assert {"## handler", "dynamodb", "kms", "secretsmanager", "bank submit"} <= names
    assert {TRACE_ROOT} == {d["trace_id"] for d in documents}
    ids = {"merchant_id": str(MERCHANT_ID), "payment_id": str(payment_id)}
    (bank_call,) = [e for e in entities if e["name"] == "bank submit"]
    assert ids == bank_call["annotations"]
    dynamodb = [e for e in entities if e["name"] == "dynamodb"]
    # The read, the forward lease's claim, the 202's record.
    assert ["GetItem", "UpdateItem", "UpdateItem"] == sorted(
        e["aws"]["operation"] for e in dynamodb
    )
    assert [str(payment_id)] * 3 == [e["annotations"]["payment_id"] for e in dynamodb]
    assert CARD_NUMBER not in json.dumps(documents)
    forwarded = outcome.metric("PaymentsForwarded")
    assert ("accepted", "bank-forwarder", "local") == (
        forwarded["result"],
        forwarded["service"],
        forwarded["stage"],
    )
    assert 1 == len(outcome.metric("BankSubmitLatency")["BankSubmitLatency"])


def test_an_unsampled_invocation_imports_no_xray_code_and_sends_nothing(
    environment: dict[str, str],
    queued_payment: tuple[dict[str, Any], UUID],
    daemon: socket.socket,
    bank: ScriptedBank,  # noqa: F811
) -> None:
    """Sampled=0: the payment is forwarded, aws_xray_sdk is never imported, nothing is sent."""
    event, _ = queued_payment
    outcome = forward_with("0", environment, event, daemon)

    assert ({"batchItemFailures": []}, False) == (outcome.result, outcome.xray_loaded)
    assert ["POST"] == [r.method for r in bank.requests]
    assert [] == received_documents(daemon)


def test_a_sampled_submission_traces_its_kms_dynamodb_sqs_and_secrets_calls(
    environment: dict[str, str], daemon: socket.socket
) -> None:
    """Sampled=1 on POST /payments: KMS GenerateDataKey, Secrets Manager (the fingerprint
    key), DynamoDB PutItem and SQS SendMessage subsegments; the item's and the message's
    subsegments carry the new payment's and the merchant's ids; PaymentsAccepted is counted."""
    event = {
        "resource": "/merchant/{merchant_id}/payments",
        "path": f"/merchant/{MERCHANT_ID}/payments",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "pathParameters": {"merchant_id": str(MERCHANT_ID)},
        "requestContext": {"authorizer": {"merchant_id": str(MERCHANT_ID)}, "requestId": "r-1"},
        "body": json.dumps(SUBMISSION),
    }
    submit = handler_path("merchant-api", "submit_payment")
    env = {**environment, "POWERTOOLS_SERVICE_NAME": "merchant-api"}
    outcome = invoke_once(submit, event, env, "1", daemon.getsockname()[1])

    assert (201, True) == (outcome.result["statusCode"], outcome.xray_loaded)
    payment_id = json.loads(outcome.result["body"])["id"]
    documents = received_documents(daemon)
    calls = {
        (e["name"], e.get("aws", {}).get("operation")): e.get("annotations", {})
        for e in subsegments(documents)
        if "aws" in e
    }
    ids = {"merchant_id": str(MERCHANT_ID), "payment_id": payment_id}
    assert {
        ("kms", "GenerateDataKey"): {},
        ("secretsmanager", "GetSecretValue"): {},
        ("dynamodb", "PutItem"): ids,
        ("sqs", "SendMessage"): ids,
    } == calls
    assert CARD_NUMBER not in json.dumps(documents)
    assert [1.0] == outcome.metric("PaymentsAccepted")["PaymentsAccepted"]
