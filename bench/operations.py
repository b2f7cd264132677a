"""The operations beyond a payment's life (SPEC §8-§10): a capture, a refund, a page of the
payments list and one webhook delivery. Runs in the warm child after bench.warm's sections,
against the same moto server, with the real handlers invoked as Lambda invokes them.

* Warm latency against a floor (the raw boto3 calls the handler must make, alternated with
  it): the capture and refund requests (GetItem + ONE conditional UpdateItem that reserves
  the amount and records the action + SendMessage) and the list page (one index Query).
* Requests, DynamoDB units and cost, walking each operation end to end:
  - capture: POST .../capture on an authorised manual payment -> the forwarder sends the
    action (the bank stub answers 202) -> POST /bank/action-updates SUCCEEDED;
  - refund: the same three steps on a captured payment;
  - list page: GET .../payments (10 rows) of a merchant with more than a page;
  - webhook delivery, for one status change and one endpoint: the change read from the
    payments table's stream -> the events recorder -> the fan-out message -> the sender's
    fan-out -> the delivery message -> the sender's delivery (POST to a receiver stub, the
    attempt recorded).
  Units: a read costs its returned items' size (4 KB units, eventual reads half); a write
  the larger of the item's size before (read just before the write is sent) and after the
  step, 1 KB units; an index write per index whose entry the step changes (an item written
  twice in one step counts its index changes once, first image to last).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import prices
from bench.common import median
from bench.harness import (
    WEBHOOK_PATH,
    BankStub,
    Recorder,
    action_event,
    action_update_event,
    callback_event,
    invoke,
    list_event,
    sqs_event,
    submit_event,
    webhook_endpoint_event,
)
from bench.requests_count import Lifecycle, gsi_writes, item_size, read_units, write_units
from bench.warm import floor_item
from local.template_resources import TableLayout, table_layout

AMOUNT = 1050
CAPTURED = 800
REFUNDED = 100
# Walks per operation; the first holds functions' first invocations and is left out.
WALKS = 6
PLATFORM_LOG_BYTES = 300  # as bench.cost: Lambda's START/END/REPORT lines per invocation
WEBHOOK_QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:gateway-local-webhooks"
# Requests the API Gateway REST APIs serve per operation (merchant API + the bank's
# callback on the private API); the authorizer's answer is cached per key (not counted).
API_REQUESTS = {"capture": 2, "refund": 2, "list page": 1, "webhook delivery": 0}
# Messages an SQS event source receives and deletes per operation (one ReceiveMessage and
# one DeleteMessageBatch each at low volume: an upper bound).
CONSUMED_MESSAGES = {"capture": 1, "refund": 1, "list page": 0, "webhook delivery": 2}


def layouts() -> dict[str, TableLayout]:
    """Every table's keys and indexes by table name, from the resources template."""
    from bench.common import resources_template
    from local.cloudformation import DYNAMODB_TABLE, of_type

    return {
        str(table["Properties"]["TableName"]): table_layout(table["Properties"])
        for table in of_type(resources_template(), DYNAMODB_TABLE).values()
    }


class Capacity:
    """The DynamoDB units of one step (see the module's docstring)."""

    def __init__(self, recorder: Recorder, dynamodb: Any) -> None:
        self.recorder = recorder
        self.dynamodb = dynamodb
        self.layouts = layouts()
        self.before: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.writes: list[tuple[str, str]] = []

    def start(self) -> None:
        """Watch the writes from now on."""
        self.before, self.writes = {}, []
        self.recorder.on_write = self._before_write

    def _key(self, table: str, params: dict[str, Any]) -> dict[str, Any]:
        source = params.get("Key") or params.get("Item") or {}
        return {name: source[name] for name in self.layouts[table].keys}

    def _before_write(self, table: str, params: dict[str, Any]) -> None:
        key = self._key(table, params)
        ident = (table, json.dumps(key, sort_keys=True))
        if ident not in self.before:
            answer = self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
            self.before[ident] = answer.get("Item")
        self.writes.append(ident)

    def units(self) -> dict[str, float]:
        """The units of the step since `start()`; stops watching."""
        self.recorder.on_write = None
        reads = self.recorder.take_reads()
        units = {"rru": 0.0, "wru": 0.0, "gsi_wru": 0.0}
        units["rru"] = sum(
            read_units(sum(item_size(i) for i in items), consistent)
            for _, consistent, items in reads
        )
        after: dict[tuple[str, str], dict[str, Any] | None] = {}
        for ident in self.writes:
            table, key = ident
            if ident not in after:
                answer = self.dynamodb.get_item(
                    TableName=table, Key=json.loads(key), ConsistentRead=True
                )
                after[ident] = answer.get("Item")
            units["wru"] += write_units(max(item_size(self.before[ident]), item_size(after[ident])))
        for ident, image in after.items():
            layout = self.layouts[ident[0]]
            units["gsi_wru"] += sum(
                write_units(size) for size in gsi_writes(layout, self.before[ident], image)
            )
        self.writes = []
        return units


class Operations:
    """Walks the operations with the handlers of `lifecycle`, recording each step."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        recorder: Recorder,
        bank: BankStub,
        env: dict[str, str],
        merchant_id: str,
        api_key: str,
        callback_secret: str,
    ) -> None:
        import boto3

        self.lifecycle = lifecycle
        self.recorder = recorder
        self.bank = bank
        self.merchant_id = merchant_id
        self.api_key = api_key
        self.secret = callback_secret
        session = boto3.session.Session(region_name=env["AWS_REGION"])
        endpoint = env["AWS_ENDPOINT_URL"]

        def client(name: str) -> Any:
            return recorder.unrecorded(
                lambda: session.client(name, endpoint_url=endpoint)  # type: ignore[call-overload]
            )

        self.dynamodb = client("dynamodb")
        self.streams = client("dynamodbstreams")
        self.sqs = client("sqs")
        self.table = env["PAYMENTS_TABLE"]
        self.webhook_queue_url = env["WEBHOOK_QUEUE_URL"]
        self.capacity = Capacity(recorder, self.dynamodb)

    # -- preparing payments (not measured) --

    def _call(self, handler: str, event: dict[str, Any]) -> Any:
        return self.lifecycle._step(handler, event)[0]

    def payment(self, capture_method: str, status: str) -> str:
        """A payment submitted, forwarded and answered `status` by the bank; its id."""
        answer = self._call(
            "submit_payment",
            submit_event(self.merchant_id, self.api_key, capture_method=capture_method),
        )
        assert answer["statusCode"] == 201, answer
        payment_id = str(json.loads(answer["body"])["id"])
        answer = self._call("forward", sqs_event([(payment_id, self.merchant_id, "bench-op")]))
        assert answer == {"batchItemFailures": []}, answer
        if status:
            event = callback_event(self.secret, payment_id, self.merchant_id, status)
            assert self._call("payment_updates", event)["statusCode"] == 200
        return payment_id

    def item(self, payment_id: str) -> dict[str, Any]:
        """The stored payment item."""
        answer = self.dynamodb.get_item(
            TableName=self.table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
        )
        found: dict[str, Any] = answer["Item"]
        return found

    def invoke(self, handler: str, event: dict[str, Any]) -> Any:
        """Invoke `handler` as its function would be, nothing recorded (for timing)."""
        return invoke(handler, self.lifecycle.handlers[handler], event)

    # -- one recorded step --

    def step(self, handler: str, event: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """Invoke `handler` with `event`: its answer and what the step cost."""
        self.recorder.take_reads()
        self.capacity.start()
        try:
            answer, calls, log = self.lifecycle._step(handler, event)
        finally:
            units = self.capacity.units()
        ms = self.lifecycle.elapsed_ms[handler][-1]
        ops = Counter(f"{c.service}:{c.operation}" for c in calls)
        return answer, {"handler": handler, "ops": ops, "units": units, "log": log, "ms": ms}

    # -- the walks --

    def capture(self) -> list[dict[str, Any]]:
        """Request, forward and bank update of a capture of CAPTURED."""
        payment_id = self.payment("manual", "AUTHORIZED")
        route = action_event(
            self.merchant_id, self.api_key, payment_id, "capture", {"amount": CAPTURED}
        )
        return self._action(payment_id, "request_capture", route, "capture")

    def refund(self) -> list[dict[str, Any]]:
        """Request, forward and bank update of a refund of REFUNDED of a captured payment."""
        payment_id = self.payment("automatic", "PAID")
        route = action_event(
            self.merchant_id, self.api_key, payment_id, "refunds", {"amount": REFUNDED}
        )
        return self._action(payment_id, "request_refund", route, "refund")

    def _action(
        self, payment_id: str, handler: str, request: dict[str, Any], kind: str
    ) -> list[dict[str, Any]]:
        answer, asked = self.step(handler, request)
        assert answer["statusCode"] == 202, answer
        action_id = str(json.loads(answer["body"])["id"])
        message = sqs_event([(payment_id, self.merchant_id, "bench-op")], action_id=action_id)
        answer, sent = self.step("forward", message)
        assert answer == {"batchItemFailures": []}, answer
        update = action_update_event(self.secret, payment_id, self.merchant_id, action_id, kind)
        answer, ended = self.step("action_updates", update)
        assert answer["statusCode"] == 200, answer
        item = self.item(payment_id)
        field, amount = (
            ("amount_captured", CAPTURED)
            if kind == "capture"
            else (
                "amount_refunded",
                REFUNDED,
            )
        )
        assert int(item[field]["N"]) == amount, item
        return [asked, sent, ended]

    def list_page(self) -> list[dict[str, Any]]:
        """The first page of the merchant's payments."""
        answer, listed = self.step("list_payments", list_event(self.merchant_id, self.api_key))
        assert answer["statusCode"] == 200, answer
        page = json.loads(answer["body"])
        assert len(page["data"]) == 10 and page["has_more"], page
        return [listed]

    def register_endpoint(self) -> None:
        """One webhook endpoint of the merchant, for every event, on the receiver stub."""
        event = webhook_endpoint_event(self.merchant_id, self.api_key, self.bank.url + WEBHOOK_PATH)
        answer = self._call("create_webhook_endpoint", event)
        assert answer["statusCode"] == 201, answer

    def webhook_delivery(self) -> list[dict[str, Any]]:
        """A payment's success, from the stream record to the receiver."""
        payment_id = self.payment("automatic", "")
        stream_arn = self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][
            -1
        ]["ShardId"]
        iterator = self.streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard, ShardIteratorType="LATEST"
        )["ShardIterator"]
        event = callback_event(self.secret, payment_id, self.merchant_id, "PAID")
        assert self._call("payment_updates", event)["statusCode"] == 200
        from local.event_sources import sqs_event as sqs_lambda_event
        from local.event_sources import stream_record

        records = self.streams.get_records(ShardIterator=iterator)["Records"]
        assert len(records) == 1, records
        received = len(self.bank.webhooks)
        steps = []
        answer, recorded = self.step(
            "record_events", {"Records": [stream_record(r, stream_arn) for r in records]}
        )
        assert answer == {"batchItemFailures": []}, answer
        steps.append(recorded)
        for _ in ("fan-out", "delivery"):
            message = self._message()
            answer, sent = self.step(
                "deliver_webhooks", sqs_lambda_event([message], WEBHOOK_QUEUE_ARN)
            )
            assert answer == {"batchItemFailures": []}, answer
            self.sqs.delete_message(
                QueueUrl=self.webhook_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            steps.append(sent)
        assert len(self.bank.webhooks) == received + 1, "the delivery reached no receiver"
        return steps

    def _message(self) -> dict[str, Any]:
        """The next message of the webhook queue (waiting for it, up to 10 s)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.webhook_queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            for message in answer.get("Messages", []):
                found: dict[str, Any] = message
                return found
        raise AssertionError("no message on the webhook queue")


def summarise(
    name: str, walks: list[list[dict[str, Any]]], memory: dict[str, int]
) -> dict[str, Any]:
    """Requests, units, durations and cost of one operation from its walks, the first left
    out (its functions' first invocations: clients, secrets, data keys)."""
    counted = walks[1:]
    count = len(counted)
    ops: Counter[str] = Counter()
    units: Counter[str] = Counter()
    log_bytes = 0
    for walk in counted:
        for step in walk:
            ops.update(step["ops"])
            units.update(step["units"])
            log_bytes += step["log"]
    per_op = {op: n / count for op, n in sorted(ops.items())}
    per_units = {k: units[k] / count for k in ("rru", "wru", "gsi_wru")}
    handlers = [step["handler"] for step in walks[0]]
    durations = [median([walk[i]["ms"] for walk in counted]) for i in range(len(handlers))]
    per_step = [
        {
            "handler": handler,
            "warm_median_ms": ms,
            "requests": {
                op: sum(walk[i]["ops"][op] for walk in counted) / count
                for op in sorted({op for walk in counted for op in walk[i]["ops"]})
            },
        }
        for i, (handler, ms) in enumerate(zip(handlers, durations, strict=True))
    ]
    lambda_usd = sum(
        prices.LAMBDA_PER_REQUEST
        + (int(ms) + 1) / 1000 * memory[handler] / 1024 * prices.LAMBDA_PER_GB_SECOND
        for handler, ms in zip(handlers, durations, strict=True)
    )
    sqs_calls = sum(n for op, n in per_op.items() if op.startswith("sqs:"))
    usd = {
        "api_gateway": API_REQUESTS[name] * prices.APIGW_REST_PER_REQUEST,
        "lambda": lambda_usd,
        "dynamodb": (per_units["wru"] + per_units["gsi_wru"]) * prices.DYNAMODB_PER_WRU
        + per_units["rru"] * prices.DYNAMODB_PER_RRU,
        "sqs": (sqs_calls + 2 * CONSUMED_MESSAGES[name]) * prices.SQS_PER_REQUEST,
        "kms": sum(n for op, n in per_op.items() if op.startswith("kms:")) * prices.KMS_PER_REQUEST,
        "secrets": sum(n for op, n in per_op.items() if op.startswith("secretsmanager:"))
        * prices.SECRETS_PER_CALL,
        "logs": (log_bytes / count + PLATFORM_LOG_BYTES * len(handlers))
        / 1e9
        * prices.LOGS_PER_GB_INGESTED,
    }
    return {
        "walks": count,
        "first_walk_left_out": True,
        "steps": per_step,
        "requests": per_op,
        "requests_total": sum(per_op.values()),
        "capacity": per_units,
        "api_requests": API_REQUESTS[name],
        "usd": usd,
        "usd_per_operation": sum(usd.values()),
        "usd_per_million": sum(usd.values()) * 1e6,
    }


class Floors:
    """The raw calls of the capture and refund requests and of a list page."""

    def __init__(self, recorder: Recorder, env: dict[str, str], merchant_id: str) -> None:
        import boto3

        session = boto3.session.Session(region_name=env["AWS_REGION"])
        endpoint = env["AWS_ENDPOINT_URL"]
        self.dynamodb = recorder.unrecorded(
            lambda: session.client("dynamodb", endpoint_url=endpoint)
        )
        self.sqs = recorder.unrecorded(lambda: session.client("sqs", endpoint_url=endpoint))
        self.table = env["PAYMENTS_TABLE"]
        self.queue_url = env["PAYMENT_QUEUE_URL"]
        self.merchant_id = merchant_id

    def payment(self) -> str:
        """A payment item with an (empty) actions map (not timed)."""
        payment_id = str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.dynamodb.put_item(
            TableName=self.table,
            Item=floor_item(
                payment_id,
                self.merchant_id,
                now,
                status={"S": "succeeded"},
                capture_method={"S": "automatic"},
                amount_captured={"N": str(AMOUNT)},
                actions={"M": {}},
                version={"N": "3"},
            ),
        )
        return payment_id

    def action(self, payment_id: str) -> None:
        """GetItem + the conditional UpdateItem that reserves an amount and records the
        action + SendMessage."""
        self.dynamodb.get_item(
            TableName=self.table, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
        )
        action_id = str(uuid.uuid4())
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"payment_id": {"S": payment_id}},
            UpdateExpression=(
                "SET actions.#a = :action, amount_refund_pending = :r, updated_at = :u "
                "ADD version :one"
            ),
            ConditionExpression="version = :v AND attribute_exists(actions)",
            ExpressionAttributeNames={"#a": action_id},
            ExpressionAttributeValues={
                ":action": {
                    "M": {
                        "type": {"S": "refund"},
                        "status": {"S": "pending"},
                        "amount": {"N": str(REFUNDED)},
                        "created_at": {"S": now},
                        "updated_at": {"S": now},
                        "version": {"N": "0"},
                    }
                },
                ":r": {"N": str(REFUNDED)},
                ":u": {"S": now},
                ":one": {"N": "1"},
                ":v": {"N": "3"},
            },
        )
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(
                {"payment_id": payment_id, "merchant_id": self.merchant_id, "action_id": action_id}
            ),
        )

    def list_page(self) -> None:
        """One Query of the merchant's index: newest first, a page and one more row."""
        self.dynamodb.query(
            TableName=self.table,
            IndexName="payments-by-merchant",
            KeyConditionExpression="merchant_id = :m",
            ExpressionAttributeValues={":m": {"S": self.merchant_id}},
            ScanIndexForward=False,
            Limit=11,
        )


def run(
    lifecycle: Lifecycle,
    recorder: Recorder,
    bank: BankStub,
    env: dict[str, str],
    merchant_id: str,
    api_key: str,
    callback_secret: str,
    invocations: int,
    latency: Callable[[str, str, list[float], list[float]], dict[str, Any]],
) -> dict[str, Any]:
    """The warm latencies (rows for bench.warm's table) and each operation's summary."""
    from bench.common import memory_sizes

    ops = Operations(lifecycle, recorder, bank, env, merchant_id, api_key, callback_secret)
    floors = Floors(recorder, env, merchant_id)
    warm: dict[str, dict[str, Any]] = {}
    for name, route, body, status, capture_method in (
        ("request_capture", "capture", {"amount": CAPTURED}, "AUTHORIZED", "manual"),
        ("request_refund", "refunds", {"amount": REFUNDED}, "PAID", "automatic"),
    ):
        handler_s: list[float] = []
        floor_s: list[float] = []
        payments = [ops.payment(capture_method, status) for _ in range(invocations + 5)]
        floor_payments = [floors.payment() for _ in payments]
        for i, (payment_id, floor_id) in enumerate(zip(payments, floor_payments, strict=True)):
            event = action_event(merchant_id, api_key, payment_id, route, body)
            started = time.perf_counter()
            answer = ops.invoke(name, event)
            elapsed = time.perf_counter() - started
            assert answer["statusCode"] == 202, answer
            started = time.perf_counter()
            floors.action(floor_id)
            floor_elapsed = time.perf_counter() - started
            if i >= 5:
                handler_s.append(elapsed)
                floor_s.append(floor_elapsed)
        warm[name] = latency(name, "GetItem + UpdateItem + SendMessage", handler_s, floor_s)
    handler_s, floor_s = [], []
    for i in range(invocations + 5):
        started = time.perf_counter()
        answer = ops.invoke("list_payments", list_event(merchant_id, api_key))
        elapsed = time.perf_counter() - started
        assert answer["statusCode"] == 200, answer
        started = time.perf_counter()
        floors.list_page()
        floor_elapsed = time.perf_counter() - started
        if i >= 5:
            handler_s.append(elapsed)
            floor_s.append(floor_elapsed)
    warm["list_payments"] = latency("list_payments", "1 x Query (index)", handler_s, floor_s)

    ops.register_endpoint()
    memory = memory_sizes()
    walks: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "capture": ops.capture,
        "refund": ops.refund,
        "list page": ops.list_page,
        "webhook delivery": ops.webhook_delivery,
    }
    summaries = {
        name: summarise(name, [walk() for _ in range(WALKS)], memory)
        for name, walk in walks.items()
    }
    return {"warm": warm, "operations": summaries}
