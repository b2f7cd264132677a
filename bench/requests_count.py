"""AWS requests per payment lifecycle (submit → forward → callback → one status read), by
operation, from botocore's events on every client the handlers create (see
`bench.harness.Recorder`), with the DynamoDB capacity units each step consumes (computed
from the stored item's size before and after, GSI writes included) and the log bytes each
step writes. Runs inside the warm child, against the same emulator.

A call is flagged when it could be cached but repeats on warm invocations: GetQueueUrl,
GetSecretValue, GenerateDataKey, Decrypt, DescribeTable, DescribeKey.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from typing import Any

from bench.harness import (
    Call,
    Handler,
    Recorder,
    authorizer_event,
    callback_event,
    get_event,
    invoke,
    sqs_event,
    submit_event,
)
from local.template_resources import IndexLayout, TableLayout, table_layout

CACHEABLE = frozenset(
    {"GetQueueUrl", "GetSecretValue", "GenerateDataKey", "Decrypt", "DescribeTable", "DescribeKey"}
)
STEPS = ("submit", "forward", "callback", "status read")
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})


def item_size(item: dict[str, Any] | None) -> int:
    """DynamoDB's size of an item in bytes (attribute names + values, per AWS's rules)."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        digits = str(content).lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(len(str(v).encode()) for v in content)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in content)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in content.items())
    return 0


def write_units(size: int) -> int:
    """Write request units of one write of an item of `size` bytes (1 KB each)."""
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    """Read request units of one read of `size` bytes (4 KB each; eventual = half)."""
    units = max(1, math.ceil(size / 4096))
    return float(units if consistent else units / 2)


def payments_layout() -> TableLayout:
    """The payments table's keys and indexes, from the resources template."""
    from bench.common import resources_template

    return table_layout(resources_template()["PaymentsTable"]["Properties"])


def gsi_writes(
    layout: TableLayout, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[int]:
    """The sizes of the writes a table's indexes take for one item change. Per index: one
    when the item enters or leaves it (indexes are sparse: an item without every index key
    is not in it), a delete and a put when a key changes, a rewrite when a projected
    attribute changes (never, for a KEYS_ONLY index), none otherwise."""
    sizes: list[int] = []
    for index in layout.indexes:
        old = _entry(index, before)
        new = _entry(index, after)
        if old is not None and new is not None:
            if any(old[k] != new[k] for k in index.keys):
                sizes += [item_size(old), item_size(new)]  # key changed: delete + put
            elif old != new:
                sizes.append(item_size(new))
        elif old is not None or new is not None:
            sizes.append(item_size(old or new))
    return sizes


def _entry(index: IndexLayout, item: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `index` holds of `item`: None when the item lacks one of its keys."""
    if item is None or not all(k in item for k in index.keys):
        return None
    if index.projected is None:
        return dict(item)
    return {name: value for name, value in item.items() if name in index.projected}


class Lifecycle:
    """Walks payments through their life with the real handlers, recording each step."""

    def __init__(
        self,
        recorder: Recorder,
        handlers: dict[str, Handler],
        merchant_id: str,
        api_key: str,
        callback_secret: str,
        env: dict[str, str],
    ) -> None:
        import boto3

        self.recorder = recorder
        self.handlers = handlers
        self.merchant_id = merchant_id
        self.api_key = api_key
        self.callback_secret = callback_secret
        self.table = env["PAYMENTS_TABLE"]
        self.layout = payments_layout()
        self.recorder.active = False
        # Wall time of each invocation, per handler, since the last `take_elapsed`.
        self.elapsed_ms: dict[str, list[float]] = {}
        self.dynamodb = boto3.session.Session(region_name=env["AWS_REGION"]).client(
            "dynamodb", endpoint_url=env["AWS_ENDPOINT_URL"]
        )

    def _item(self, payment_id: str) -> dict[str, Any] | None:
        (hash_key,) = self.layout.keys
        answer = self.dynamodb.get_item(
            TableName=self.table, Key={hash_key: {"S": payment_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _step(self, name: str, event: dict[str, Any]) -> tuple[Any, list[Call], int]:
        sys.stdout.flush()
        log_before = os.fstat(sys.stdout.fileno()).st_size
        self.recorder.take()
        self.recorder.active = True
        started = time.perf_counter()
        try:
            answer = invoke(name, self.handlers[name], event)
        finally:
            self.recorder.active = False
            self.elapsed_ms.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        sys.stdout.flush()
        return answer, self.recorder.take(), os.fstat(sys.stdout.fileno()).st_size - log_before

    def take_elapsed(self) -> dict[str, list[float]]:
        """The invocation times recorded so far (milliseconds, per handler); forgets them."""
        taken, self.elapsed_ms = self.elapsed_ms, {}
        return taken

    def _units(
        self, calls: list[Call], before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> dict[str, float]:
        units = {"rru": 0.0, "wru": 0.0, "gsi_wru": 0.0}
        for call in calls:
            if call.service != "dynamodb":
                continue
            ours = call.table == self.table
            if call.operation in WRITES:
                size = max(item_size(before), item_size(after)) if ours else 0
                units["wru"] += write_units(size)
            elif call.operation in READS:
                size = item_size(before) if ours else 0
                units["rru"] += read_units(size, call.consistent)
        units["gsi_wru"] = float(
            sum(write_units(s) for s in gsi_writes(self.layout, before, after))
        )
        return units

    def run(self, payments: int, label: str) -> dict[str, Any]:
        """Walk `payments` payments; average calls, capacity units and log bytes per step."""
        import json

        ops: dict[str, Counter[str]] = {step: Counter() for step in STEPS}
        units: dict[str, Counter[str]] = {step: Counter() for step in STEPS}
        logs: Counter[str] = Counter()
        sizes: list[int] = []
        for _ in range(payments):
            answer, calls, log = self._step(
                "submit_payment", submit_event(self.merchant_id, self.api_key)
            )
            assert answer["statusCode"] == 201, answer
            resource = json.loads(answer["body"])
            payment_id = resource["id"]
            steps: list[tuple[str, str, dict[str, Any]]] = [
                ("forward", "forward", sqs_event([(payment_id, self.merchant_id, "bench-lc")])),
                (
                    "callback",
                    "payment_updates",
                    callback_event(self.callback_secret, payment_id, self.merchant_id),
                ),
                (
                    "status read",
                    "get_payment",
                    get_event(self.merchant_id, self.api_key, payment_id),
                ),
            ]
            before: dict[str, Any] | None = None
            after = self._item(payment_id)
            sizes.append(item_size(after))
            self._account(ops, units, logs, "submit", calls, before, after, log)
            for step, handler, event in steps:
                before = after
                answer, calls, log = self._step(handler, event)
                after = self._item(payment_id)
                self._account(ops, units, logs, step, calls, before, after, log)
            assert after is not None and after["status"]["S"] == "succeeded", after
        per_step = {
            step: {op: n / payments for op, n in sorted(ops[step].items())} for step in STEPS
        }
        total: Counter[str] = Counter()
        for step in STEPS:
            total.update(ops[step])
        flags = sorted(
            {
                f"{op} in {step}"
                for step in STEPS
                for op in ops[step]
                if op.split(":", 1)[1] in CACHEABLE
            }
        )
        return {
            "label": label,
            "payments": payments,
            "per_step": per_step,
            "per_payment": {op: n / payments for op, n in sorted(total.items())},
            "requests_per_payment": sum(total.values()) / payments,
            "capacity_per_step": {
                step: {k: v / payments for k, v in units[step].items()} for step in STEPS
            },
            "capacity_per_payment": {
                k: sum(units[step][k] for step in STEPS) / payments
                for k in ("rru", "wru", "gsi_wru")
            },
            "log_bytes_per_step": {step: logs[step] / payments for step in STEPS},
            "item_bytes_after_submit": sum(sizes) / len(sizes),
            "cacheable_repeats": flags,
        }

    def _account(
        self,
        ops: dict[str, Counter[str]],
        units: dict[str, Counter[str]],
        logs: Counter[str],
        step: str,
        calls: list[Call],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        log: int,
    ) -> None:
        ops[step].update(f"{c.service}:{c.operation}" for c in calls)
        units[step].update(self._units(calls, before, after))
        logs[step] += log

    def authorizer_calls(self, invocations: int) -> dict[str, Any]:
        """Calls and log bytes per warm authorizer invocation (API Gateway caches its answer
        for 300 s per key, so it runs once per key and TTL, not per request)."""
        counter: Counter[str] = Counter()
        log_bytes = 0
        for _ in range(invocations):
            _, calls, log = self._step(
                "authorizer", authorizer_event(self.api_key, self.merchant_id)
            )
            counter.update(f"{c.service}:{c.operation}" for c in calls)
            log_bytes += log
        return {
            "per_invocation": {op: n / invocations for op, n in sorted(counter.items())},
            "log_bytes": log_bytes / invocations,
            "cacheable_repeats": sorted(op for op in counter if op.split(":", 1)[1] in CACHEABLE),
        }
