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
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from shared_kernel.bootstrap import build_gateway
from shared_kernel.settings import Settings

from .conftest import REGION, ClientFactory, Tables, unique
from .test_bank_client import ScriptedBank, answer, bank  # noqa: F401  (the bank fixture)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TRACE_ROOT = "1-67a1b2c3-0123456789abcdef01234567"
MERCHANT_ID = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")
CARD_NUMBER = "4242424242424242"
SUBMISSION = {
    "card_number": CARD_NUMBER,
    "expiry_month": 12,
    "expiry_year": 2030,
    "cvv": "123",
    "amount": 1050,
    "currency": "GBP",
    "reference": "order-1234",
}

# Runs the forwarder's handler once on the record in argv[2], as Lambda would.
_INVOKE = """
import importlib.util, json, sys
from types import SimpleNamespace
spec = importlib.util.spec_from_file_location("traced_handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
context = SimpleNamespace(
    function_name="bank-forwarder-local-forward", memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:forward",
    aws_request_id="req-1",
)
result = module.handler({"Records": [json.loads(sys.argv[2])]}, context)
print(json.dumps({"result": result, "xray_loaded": "aws_xray_sdk" in sys.modules}))
"""


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


def forwarder_handler() -> Path:
    """The forwarder's handler module (whatever its service's handlers package is named)."""
    (path,) = (ROOT / "services" / "bank-forwarder").glob("*handlers/forward.py")
    return path


def forward_once(
    env: dict[str, str], record: dict[str, Any], sampled: str, daemon_port: int
) -> dict[str, Any]:
    """Run the forwarder once in a fresh process, as Lambda would with this trace header."""
    trace = {
        "LAMBDA_TASK_ROOT": str(ROOT),
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled={sampled}",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
    }
    run = subprocess.run(
        [sys.executable, "-c", _INVOKE, str(forwarder_handler()), json.dumps(record)],
        env={**env, **trace},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 0 == run.returncode, run.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return outcome


@pytest.fixture
def queued_payment(
    tables: Tables,
    queue_url: str,
    card_key_id: str,
    aws_endpoint: str,
    aws_client: ClientFactory,
    bank: ScriptedBank,  # noqa: F811
) -> tuple[dict[str, str], dict[str, Any], UUID]:
    """A submitted payment (stored, card sealed, queued): the forwarder's environment, its
    queue record, and the payment id; the bank accepts it."""
    secret = unique("bank-api-key")
    aws_client("secretsmanager").create_secret(Name=secret, SecretString="bank-secret-key")
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "NO_PROXY": "127.0.0.1,localhost",
        "STAGE": "local",
        "POWERTOOLS_SERVICE_NAME": "bank-forwarder",
        "PAYMENTS_TABLE": tables.payments,
        "MERCHANTS_TABLE": tables.merchants,
        "PAYMENT_QUEUE_URL": queue_url,
        "CARD_KEY_ID": card_key_id,
        "BANK_URL": bank.url,
        "BANK_API_KEY_SECRET_ID": secret,
    }
    payment = build_gateway(Settings.from_env(env)).submit_payment(
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
    return env, record, payment.id


def test_a_sampled_invocation_traces_its_aws_and_bank_calls_with_the_payments_ids(
    queued_payment: tuple[dict[str, str], dict[str, Any], UUID],
    daemon: socket.socket,
    bank: ScriptedBank,  # noqa: F811
) -> None:
    """Sampled=1: subsegments for the handler, DynamoDB, KMS, Secrets Manager and the bank
    (POST /payments), in the invocation's trace; the DynamoDB and bank ones carry the payment
    and merchant ids; no card number in anything sent."""
    env, record, payment_id = queued_payment
    outcome = forward_once(env, record, "1", daemon.getsockname()[1])

    assert ({"batchItemFailures": []}, True) == (outcome["result"], outcome["xray_loaded"])
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
    assert ["GetItem", "UpdateItem"] == sorted(e["aws"]["operation"] for e in dynamodb)
    assert [str(payment_id)] * 2 == [e["annotations"]["payment_id"] for e in dynamodb]
    assert CARD_NUMBER not in json.dumps(documents)


def test_an_unsampled_invocation_imports_no_xray_code_and_sends_nothing(
    queued_payment: tuple[dict[str, str], dict[str, Any], UUID],
    daemon: socket.socket,
    bank: ScriptedBank,  # noqa: F811
) -> None:
    """Sampled=0: the payment is forwarded, aws_xray_sdk is never imported, nothing is sent."""
    env, record, _ = queued_payment
    outcome = forward_once(env, record, "0", daemon.getsockname()[1])

    assert ({"batchItemFailures": []}, False) == (outcome["result"], outcome["xray_loaded"])
    assert ["POST"] == [r.method for r in bank.requests]
    assert [] == received_documents(daemon)
