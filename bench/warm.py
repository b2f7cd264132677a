"""Warm latency of every handler, in-process against a moto server, vs the raw boto3 calls
that handler must make (its floor), against the same server in the same run.

The handlers are called as Lambda calls them (`handler(event, context)`), with API Gateway
REST proxy events (authorizer context included), TOKEN authorizer events and SQS events.
Handler and floor iterations alternate, after a few discarded warm-up calls of each, so
that both see the same emulator state and machine load. Submit is measured twice: without
an Idempotency-Key against PutItem + SendMessage, and with a unique key per request against
the key's conditional claim PutItem plus the same. The forwarder is also measured on
a batch of 10 against one message, with a bank stub answering in 50 ms.

`python -m bench.warm OUT.json` is the child the bench runs (its stdout carries the
handlers' logs); `run()` starts it against a fresh moto server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    BANK_API_KEY,
    CALLBACK_SECRET,
    ROOT,
    create_resources,
    median,
    moto_server,
    percentile,
)

WARMUP = 5
# The submit handler is measured twice: without an Idempotency-Key against the floor,
# and with a unique key per request against that floor plus the key's claim.
SUBMIT_WITH_KEY = "submit_payment (Idempotency-Key)"
# Handlers whose ratio SPEC §7's issue sets a target for.
TARGETS = {
    "submit_payment": 1.3,
    SUBMIT_WITH_KEY: 1.3,
    "get_payment": 1.3,
    "payment_updates": 1.3,
    "request_capture": 1.3,
    "request_refund": 1.3,
}
BATCH_TARGET = 2.0
# The handlers bench.operations walks besides the payment's own.
OPERATION_HANDLERS = (
    "request_capture",
    "request_refund",
    "list_payments",
    "create_webhook_endpoint",
    "action_updates",
    "record_events",
    "deliver_webhooks",
)
BANK_DELAY_S = 0.05


@dataclass
class Latency:
    """One handler's warm latency against its floor (milliseconds)."""

    handler: str
    n: int
    median_ms: float
    p99_ms: float
    floor_median_ms: float
    floor_p99_ms: float
    ratio: float
    floor: str
    target_ratio: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None: no target)."""
        return None if self.target_ratio is None else self.ratio <= self.target_ratio


def _latency(name: str, floor: str, handler_s: list[float], floor_s: list[float]) -> dict[str, Any]:
    hm, fm = median(handler_s) * 1000, median(floor_s) * 1000
    result = Latency(
        handler=name,
        n=len(handler_s),
        median_ms=hm,
        p99_ms=percentile(handler_s, 99) * 1000,
        floor_median_ms=fm,
        floor_p99_ms=percentile(floor_s, 99) * 1000,
        ratio=hm / fm if fm else 0.0,
        floor=floor,
        target_ratio=TARGETS.get(name),
    )
    return {**asdict(result), "met": result.met}


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = call()
    return time.perf_counter() - started, answer


def floor_item(
    payment_id: str, merchant_id: str, now: str, **attributes: dict[str, Any]
) -> dict[str, Any]:
    """A payment item of the stored shape for the floors: the card's and amount's
    attributes, the times, and `attributes`."""
    return {
        "payment_id": {"S": payment_id},
        "merchant_id": {"S": merchant_id},
        "amount": {"N": "1050"},
        "currency": {"S": "GBP"},
        "card_last4": {"S": "4242"},
        "card_brand": {"S": "visa"},
        "expiry_month": {"N": "12"},
        "expiry_year": {"N": "2030"},
        "reference": {"S": "order-floor"},
        "created_at": {"S": now},
        "updated_at": {"S": now},
        **attributes,
    }


class Floors:
    """The raw boto3 calls each handler must make, with plain clients (and urllib3 for the
    bank), on items of the same shape."""

    def __init__(self, env: dict[str, str], merchant_id: str, key_hash: str) -> None:
        import boto3
        import urllib3

        session = boto3.session.Session(region_name=env["AWS_REGION"])
        endpoint = env["AWS_ENDPOINT_URL"]
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        self.sqs = session.client("sqs", endpoint_url=endpoint)
        self.kms = session.client("kms", endpoint_url=endpoint)
        self.env = env
        self.merchant_id = merchant_id
        self.key_hash = key_hash
        self.http = urllib3.PoolManager(maxsize=10, retries=False)
        self.created: list[tuple[str, bytes]] = []  # (payment id, encrypted data key)
        self.forwarded: list[str] = []
        # The floor makes a KMS call only where the product makes one per payment (with a
        # data-key cache it makes none); set from the measured request counts.
        self.generate_data_key = True
        self.decrypt = True
        self._data_key: bytes | None = None
        self.idempotency_table = env.get("IDEMPOTENCY_TABLE", "")

    def _now(self, later: timedelta = timedelta(0)) -> str:
        return (datetime.now(UTC) + later).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def authorizer(self) -> None:
        """GetItem of the key hash."""
        self.dynamodb.get_item(
            TableName=self.env["MERCHANTS_TABLE"],
            Key={"pk": {"S": "apikey#" + self.key_hash}},
            ConsistentRead=True,
        )

    def submit(self) -> None:
        """GenerateDataKey + conditional PutItem + SendMessage."""
        payment_id = str(uuid.uuid4())
        context = {"payment_id": payment_id, "merchant_id": self.merchant_id}
        if self.generate_data_key or self._data_key is None:
            key = self.kms.generate_data_key(
                KeyId=self.env["CARD_KEY_ID"], KeySpec="AES_256", EncryptionContext=context
            )
            self._data_key = key["CiphertextBlob"]
        now = self._now()
        blob = self._data_key
        self.dynamodb.put_item(
            TableName=self.env["PAYMENTS_TABLE"],
            Item=floor_item(
                payment_id,
                self.merchant_id,
                now,
                status={"S": "pending"},
                sealed_card={"B": b"\x01" + blob + os.urandom(12 + 20 + 16)},
                correlation_id={"S": "bench-floor"},
                open_shard={"S": "open"},
                next_check_at={"S": self._now(timedelta(seconds=30))},
                version={"N": "0"},
            ),
            ConditionExpression="attribute_not_exists(payment_id)",
        )
        self.sqs.send_message(
            QueueUrl=self.env["PAYMENT_QUEUE_URL"],
            MessageBody=json.dumps({"payment_id": payment_id, "merchant_id": self.merchant_id}),
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": "x"}},
        )
        self.created.append((payment_id, blob))

    def submit_idempotent(self) -> None:
        """The submit floor with an Idempotency-Key: the conditional PutItem that claims the
        key (an item of the claim's shape), then submit()."""
        now = datetime.now(UTC)
        self.dynamodb.put_item(
            TableName=self.idempotency_table,
            Item={
                "pk": {"S": f"{self.merchant_id}#{uuid.uuid4()}"},
                "request_hash": {"S": "0" * 64},
                "owner": {"S": uuid.uuid4().hex},
                "submission_id": {"S": str(uuid.uuid4())},
                "expires_at": {"N": str(int((now + timedelta(hours=24)).timestamp()))},
                "locked_until": {"N": str(int((now + timedelta(seconds=30)).timestamp() * 1000))},
            },
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
        )
        self.submit()

    def get(self, payment_id: str | None = None) -> None:
        """GetItem, strongly consistent."""
        self.dynamodb.get_item(
            TableName=self.env["PAYMENTS_TABLE"],
            Key={"payment_id": {"S": payment_id or self.created[0][0]}},
            ConsistentRead=True,
        )

    def forward(self) -> None:
        """GetItem + Decrypt + the forward lease's conditional UpdateItem + the bank's POST +
        conditional UpdateItem."""
        payment_id, blob = self.created.pop()
        self.get(payment_id)
        context = {"payment_id": payment_id, "merchant_id": self.merchant_id}
        if self.decrypt:
            self.kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        self.dynamodb.update_item(
            TableName=self.env["PAYMENTS_TABLE"],
            Key={"payment_id": {"S": payment_id}},
            UpdateExpression="SET forward_lease_until = :l ADD version :one",
            ConditionExpression="version = :v",
            ExpressionAttributeValues={
                ":l": {"S": self._now()},
                ":one": {"N": "1"},
                ":v": {"N": "0"},
            },
        )
        self.http.request(
            "POST",
            self.env["BANK_URL"] + "/payments",
            body=json.dumps({"payment_request_id": payment_id}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": payment_id},
        )
        self.dynamodb.update_item(
            TableName=self.env["PAYMENTS_TABLE"],
            Key={"payment_id": {"S": payment_id}},
            UpdateExpression=(
                "SET #s = :s, updated_at = :u, bank_reference = :r "
                "REMOVE sealed_card, forward_lease_until ADD version :one"
            ),
            ConditionExpression="version = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": {"S": "processing"},
                ":u": {"S": self._now()},
                ":r": {"S": "bank_floor"},
                ":one": {"N": "1"},
                ":v": {"N": "1"},
            },
        )
        self.forwarded.append(payment_id)

    def callback(self) -> None:
        """GetItem + conditional UpdateItem."""
        payment_id = self.forwarded.pop()
        self.get(payment_id)
        self.dynamodb.update_item(
            TableName=self.env["PAYMENTS_TABLE"],
            Key={"payment_id": {"S": payment_id}},
            UpdateExpression=(
                "SET #s = :s, updated_at = :u REMOVE open_shard, next_check_at ADD version :one"
            ),
            ConditionExpression="version = :v",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":s": {"S": "succeeded"},
                ":u": {"S": self._now()},
                ":one": {"N": "1"},
                ":v": {"N": "2"},
            },
        )

    def reconcile(self) -> None:
        """One Query on the sparse keys-only index: the open payments due by now."""
        self.dynamodb.query(
            TableName=self.env["PAYMENTS_TABLE"],
            IndexName="open-payments-by-next-check",
            KeyConditionExpression="open_shard = :o AND next_check_at <= :t",
            ExpressionAttributeValues={":o": {"S": "open"}, ":t": {"S": self._now()}},
            Limit=500,
        )


def child(out: Path, invocations: int, batches: int) -> None:
    """Run in the bench's child process: warm latencies, then the request counts."""
    from bench.harness import (
        BankStub,
        Recorder,
        authorizer_event,
        callback_event,
        get_event,
        invoke,
        load_handler,
        sqs_event,
        submit_event,
    )
    from bench.requests_count import Lifecycle

    recorder = Recorder()
    recorder.install()
    bank = BankStub().start()
    os.environ["BANK_URL"] = bank.url
    env = dict(os.environ)

    from shared_kernel.application.merchant_keys import hash_api_key
    from shared_kernel.bootstrap import build_gateway
    from shared_kernel.settings import Settings

    setup = build_gateway(Settings.from_env())
    created = setup.register_merchant("Bench merchant")
    merchant_id, api_key = str(created.merchant_id), created.api_key
    key_hash = hash_api_key(setup.api_key_pepper, api_key)

    handlers = {
        name: load_handler(name)
        for name in (
            "authorizer",
            "submit_payment",
            "get_payment",
            "forward",
            "reconcile",
            "payment_updates",
            *OPERATION_HANDLERS,
        )
    }
    lifecycle = Lifecycle(recorder, handlers, merchant_id, api_key, CALLBACK_SECRET, env)
    results: dict[str, Any] = {
        "cold_authorizer": lifecycle.authorizer_calls(1),
        "cold_lifecycle": lifecycle.run(1, "first invocations"),
    }
    # The first invocation of each function after its import: its Gateway's clients, the
    # secrets and data key it fetches, the schemas it compiles (one each, in-process).
    results["first_invocation_ms"] = {
        name: times[0] for name, times in lifecycle.take_elapsed().items()
    }
    floors = Floors(env, merchant_id, key_hash)
    probe = lifecycle.run(3, "probe")["per_step"]
    floors.generate_data_key = probe["submit"].get("kms:GenerateDataKey", 0) >= 0.5
    floors.decrypt = probe["forward"].get("kms:Decrypt", 0) >= 0.5
    results["floor_kms"] = {
        "generate_data_key": floors.generate_data_key,
        "decrypt": floors.decrypt,
    }

    def call(name: str, event: dict[str, Any]) -> Any:
        return invoke(name, handlers[name], event)

    latencies: dict[str, dict[str, Any]] = {}
    submitted: list[tuple[str, str]] = []  # (payment id, correlation id)

    def measure(
        name: str,
        floor_name: str,
        event: Callable[[int], dict[str, Any]],
        floor: Callable[[], None],
        n: int,
        keep: Callable[[Any, dict[str, Any]], None] | None = None,
        handler: str | None = None,
    ) -> None:
        """Time `handler` (default: `name`) against `floor`; the row is called `name`."""
        handler_s: list[float] = []
        floor_s: list[float] = []
        for i in range(n + WARMUP):
            the_event = event(i)
            elapsed, answer = _timed(lambda e=the_event: call(handler or name, e))  # type: ignore[misc]
            floor_elapsed, _ = _timed(floor)
            if keep is not None:
                keep(answer, the_event)
            if i >= WARMUP:
                handler_s.append(elapsed)
                floor_s.append(floor_elapsed)
        latencies[name] = _latency(name, floor_name, handler_s, floor_s)

    # Nothing stuck yet: the reconciler's common case (one empty index query).
    measure("reconcile", "1 x Query (index)", lambda i: {}, floors.reconcile, invocations)
    measure(
        "authorizer",
        "GetItem",
        lambda i: authorizer_event(api_key, merchant_id),
        floors.authorizer,
        invocations,
    )

    def keep_submitted(answer: Any, event: dict[str, Any]) -> None:
        assert answer["statusCode"] == 201, answer
        submitted.append((json.loads(answer["body"])["id"], event["headers"]["X-Correlation-Id"]))

    needed = invocations + 1 + batches * 11
    kms = "GenerateDataKey + " if floors.generate_data_key else ""
    measure(
        "submit_payment",
        f"{kms}PutItem + SendMessage",
        lambda i: submit_event(merchant_id, api_key, idempotency_key=False),
        floors.submit,
        needed,
        keep_submitted,
    )
    if floors.idempotency_table:
        measure(
            SUBMIT_WITH_KEY,
            f"PutItem (claim) + {kms}PutItem + SendMessage",
            lambda i: submit_event(merchant_id, api_key),
            floors.submit_idempotent,
            invocations,
            keep_submitted,
            handler="submit_payment",
        )
    measure(
        "get_payment",
        "GetItem",
        lambda i: get_event(merchant_id, api_key, submitted[i % len(submitted)][0]),
        lambda: floors.get(),
        invocations,
    )
    queue = list(submitted)
    forwarded: list[str] = []

    def keep_forwarded(answer: Any, event: dict[str, Any]) -> None:
        assert answer == {"batchItemFailures": []}, answer
        forwarded.append(json.loads(event["Records"][0]["body"])["payment_id"])

    def one_message(i: int) -> dict[str, Any]:
        payment_id, correlation = queue.pop()
        return sqs_event([(payment_id, merchant_id, correlation)])

    measure(
        "forward",
        "GetItem + "
        + ("Decrypt + " if floors.decrypt else "")
        + "lease UpdateItem + bank POST + UpdateItem",
        one_message,
        floors.forward,
        invocations,
        keep_forwarded,
    )
    measure(
        "payment_updates",
        "GetItem + UpdateItem",
        lambda i: callback_event(CALLBACK_SECRET, forwarded.pop(), merchant_id),
        floors.callback,
        invocations,
    )
    results["warm"] = latencies

    # The forwarder: a batch of 10 against one message, the bank answering in 50 ms.
    bank.delay_s = BANK_DELAY_S
    single_s: list[float] = []
    batch_s: list[float] = []
    for _ in range(batches):
        payment_id, correlation = queue.pop()
        elapsed, _ = _timed(
            lambda p=payment_id, c=correlation: call(  # type: ignore[misc]
                "forward", sqs_event([(p, merchant_id, c)])
            )
        )
        single_s.append(elapsed)
        batch = [(p, merchant_id, c) for p, c in (queue.pop() for _ in range(10))]
        elapsed, answer = _timed(lambda b=batch: call("forward", sqs_event(b)))  # type: ignore[misc]
        assert answer == {"batchItemFailures": []}, answer
        batch_s.append(elapsed)
    # The same comparison for the floor (10 threads of raw calls): what the emulator and
    # this machine allow, whatever the forwarder does.
    floor_single_s: list[float] = []
    floor_batch_s: list[float] = []
    with ThreadPoolExecutor(10) as pool:
        for _ in range(batches):
            floors.submit()
            floor_single_s.append(_timed(floors.forward)[0])
            for _ in range(10):
                floors.submit()
            elapsed, _ = _timed(lambda: list(pool.map(lambda _: floors.forward(), range(10))))
            floor_batch_s.append(elapsed)
    bank.delay_s = 0.0
    results["forward_batch"] = {
        "floor_one_message_median_ms": median(floor_single_s) * 1000,
        "floor_batch_of_10_median_ms": median(floor_batch_s) * 1000,
        "floor_ratio": median(floor_batch_s) / median(floor_single_s),
        "bank_delay_ms": BANK_DELAY_S * 1000,
        "n": batches,
        "one_message_median_ms": median(single_s) * 1000,
        "one_message_p99_ms": percentile(single_s, 99) * 1000,
        "batch_of_10_median_ms": median(batch_s) * 1000,
        "batch_of_10_p99_ms": percentile(batch_s, 99) * 1000,
        "ratio": median(batch_s) / median(single_s),
        "target_ratio": BATCH_TARGET,
        "met": median(batch_s) / median(single_s) <= BATCH_TARGET,
    }
    results["lifecycle"] = lifecycle.run(20, "warm")
    results["authorizer_calls"] = lifecycle.authorizer_calls(20)
    from bench import operations

    beyond = operations.run(
        lifecycle, recorder, bank, env, merchant_id, api_key, CALLBACK_SECRET, invocations, _latency
    )
    latencies.update(beyond["warm"])
    results["operations"] = beyond["operations"]
    bank.stop()
    out.write_text(json.dumps(results, indent=2))


def run(log_dir: Path, invocations: int = 200, batches: int = 30) -> dict[str, Any]:
    """Start moto, create the resources, run the child; its JSON results."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out = log_dir / "warm.json"
    with moto_server(log_dir / "moto-warm.log") as endpoint:
        resources = create_resources(endpoint)
        env = {**os.environ, **resources.settings_env(bank_url="http://127.0.0.1:9")}
        env["BANK_API_KEY"] = BANK_API_KEY
        with open(log_dir / "warm-handlers.log", "wb") as log:
            subprocess.run(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "bench.warm", str(out), str(invocations), str(batches)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=600,
            )
    result: dict[str, Any] = json.loads(out.read_text())
    result["emf_metrics"] = emf_metrics(log_dir / "warm-handlers.log")
    return result


def emf_metrics(log: Path) -> list[str]:
    """The custom metrics the handlers emitted as Embedded Metric Format lines in `log`:
    each namespace, metric name and dimension values (CloudWatch bills each such metric)."""
    found: set[str] = set()
    decoder = json.JSONDecoder()
    for line in log.read_text(errors="replace").splitlines():
        if '"CloudWatchMetrics"' not in line or not line.startswith("{"):
            continue
        # The first object of the line: the forwarder's threads can run two lines together.
        record, _ = decoder.raw_decode(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for dimensions in directive["Dimensions"]:
                values = ",".join(f"{d}={record.get(d)}" for d in dimensions)
                for metric in directive["Metrics"]:
                    found.add(f"{directive['Namespace']}/{metric['Name']} [{values}]")
    return sorted(found)


if __name__ == "__main__":
    child(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
