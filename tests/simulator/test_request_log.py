"""The simulator as a witness: its log of every POST /payments (`GET /_sim/requests`) and the
`idempotency: off` mode (`PUT /_sim/mode`), in which every accepted POST is a new charge.

The simulator runs as a subprocess on a free port, as in test_bank_simulator.py (whose
helpers these tests reuse); its callbacks go to a receiver in the test process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.simulator.test_bank_simulator import (
    Simulator,
    payment_body,
    simulator_with_receiver,
    wait_for,
)

pytestmark = pytest.mark.simulator

ENTRY_FIELDS = {
    "seq",
    "kind",
    "payment_request_id",
    "action_id",
    "merchant_id",
    "idempotency_key",
    "status",
    "outcome",
    "error_code",
    "bank_reference",
    "held_ms",
    "received_at",
    "received_monotonic",
    "answered_at",
    "answered_monotonic",
}


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """A simulator of this module, its callbacks answered by a receiver."""
    with simulator_with_receiver(Path(tmp_path_factory.mktemp("request-log"))) as (simulator, _):
        yield simulator


@pytest.fixture
def sim(witness: Simulator) -> Simulator:
    """The module's simulator, reset (no records, requests, faults; idempotency on)."""
    assert 200 == witness.client.post("/_sim/reset").status_code
    return witness


def requests_of(sim: Simulator, **query: int) -> dict[str, Any]:
    """GET /_sim/requests with `query`."""
    answer = sim.client.get("/_sim/requests", params=query)
    assert 200 == answer.status_code, answer.text
    read: dict[str, Any] = answer.json()
    return read


def wait_answered(sim: Simulator, count: int) -> list[dict[str, Any]]:
    """The log once its first `count` entries have their answer time (written after the
    client got the bytes, so a read straight after a response may just precede it)."""

    def done() -> bool:
        entries = requests_of(sim)["requests"]
        return len(entries) >= count and all(e["answered_monotonic"] for e in entries[:count])

    assert wait_for(done)
    entries: list[dict[str, Any]] = requests_of(sim)["requests"]
    return entries


def test_every_post_is_logged_in_order_with_its_answer(sim: Simulator) -> None:
    """A charge, a repeat, a 401, a 400 and a 422 are logged in arrival order with the answer
    given (and its error code), the Idempotency-Key, the ids, the reference of each 202 and
    both clocks."""
    body = payment_body()
    payment_id, merchant_id = body["payment_request_id"], body["merchant_id"]
    first = sim.post_payment(body)
    repeat = sim.post_payment(body)
    unauthorised = sim.client.post(
        "/payments", json=body, headers={"Idempotency-Key": payment_id, **sim.auth("wrong")}
    )
    invalid = sim.post_payment({**body, "amount": 0})
    reused = sim.post_payment({**body, "amount": 7})

    entries = wait_answered(sim, 5)

    assert [202, 202, 401, 400, 422] == [
        first.status_code,
        repeat.status_code,
        unauthorised.status_code,
        invalid.status_code,
        reused.status_code,
    ]
    reference = first.json()["bank_reference"]
    expected = [
        (1, 202, "charged", reference),
        (2, 202, "repeat", reference),
        (3, 401, "refused", None),
        (4, 400, "refused", None),
        (5, 422, "refused", None),
    ]
    assert expected == [(e["seq"], e["status"], e["outcome"], e["bank_reference"]) for e in entries]
    assert [ENTRY_FIELDS] * 5 == [set(e) for e in entries]
    assert [
        ("payment", None, None),
        ("payment", None, None),
        ("payment", None, "unauthorized"),
        ("payment", None, "validation_error"),
        ("payment", None, "idempotency_key_reused"),
    ] == [(e["kind"], e["action_id"], e["error_code"]) for e in entries]
    assert [(payment_id, merchant_id, payment_id, 0)] * 5 == [
        (e["payment_request_id"], e["merchant_id"], e["idempotency_key"], e["held_ms"])
        for e in entries
    ]
    arrivals = [e["received_monotonic"] for e in entries]
    assert sorted(arrivals) == arrivals
    assert all(e["answered_monotonic"] >= e["received_monotonic"] for e in entries)
    assert all(abs(e["received_at"] - time.time()) < 60 for e in entries)
    assert (5, 0) == (requests_of(sim)["last_seq"], requests_of(sim)["dropped"])


def test_unavailable_answer_is_logged_without_reference(sim: Simulator) -> None:
    """error_rate=1: the 503 is logged as `unavailable`, with no bank reference."""
    sim.set_faults(error_rate=1)
    body = payment_body()

    answer = sim.post_payment(body)
    [entry] = wait_answered(sim, 1)

    assert 503 == answer.status_code
    expected = (body["payment_request_id"], 503, "unavailable", None)
    assert expected == (
        entry["payment_request_id"],
        entry["status"],
        entry["outcome"],
        entry["bank_reference"],
    )


def test_held_answer_is_logged_with_its_hold_and_late_answer_time(sim: Simulator) -> None:
    """timeout_rate=1: the charge is logged with held_ms = timeout_ms, and its answer time is
    at least that long after its arrival; the client's read timed out before."""
    sim.set_faults(timeout_rate=1, timeout_ms=600)
    body = payment_body()

    with pytest.raises(httpx.ReadTimeout):
        sim.post_payment(body, timeout=0.2)
    [entry] = wait_answered(sim, 1)

    assert (202, "charged", 600) == (entry["status"], entry["outcome"], entry["held_ms"])
    assert entry["answered_monotonic"] - entry["received_monotonic"] >= 0.6


def test_idempotency_off_charges_every_accepted_post(sim: Simulator) -> None:
    """idempotency off: a repeat with the same key is charged again, under a new reference,
    and counted; the record's status and the first answer stay the first charge's."""
    assert {"idempotency": "on"} == sim.client.get("/_sim/mode").json()
    switched = sim.client.put("/_sim/mode", json={"idempotency": "off"})
    body = payment_body()
    payment_id = body["payment_request_id"]

    first = sim.post_payment(body)
    second = sim.post_payment(body)
    entries = wait_answered(sim, 2)

    assert (200, {"idempotency": "off"}) == (switched.status_code, switched.json())
    assert (202, 202) == (first.status_code, second.status_code)
    assert first.json()["bank_reference"] != second.json()["bank_reference"]
    assert [
        ("charged", first.json()["bank_reference"]),
        ("charged", second.json()["bank_reference"]),
    ] == [(e["outcome"], e["bank_reference"]) for e in entries]
    record = sim.record(payment_id)
    assert (2, 2, first.json()["bank_reference"]) == (
        record["posts"],
        record["charges"],
        record["bank_reference"],
    )
    assert 1 == sim.stats()["double_charged"]


def test_mode_survives_clearing_faults_and_is_reset_by_reset(sim: Simulator) -> None:
    """PUT /_sim/faults leaves the mode alone; POST /_sim/reset turns idempotency back on."""
    sim.client.put("/_sim/mode", json={"idempotency": "off"})

    sim.set_faults()
    after_faults = sim.client.get("/_sim/mode").json()
    sim.client.post("/_sim/reset")
    after_reset = sim.client.get("/_sim/mode").json()

    assert ({"idempotency": "off"}, {"idempotency": "on"}) == (after_faults, after_reset)


def test_invalid_mode_is_400_listing_every_field(sim: Simulator) -> None:
    """A mode other than on/off, or an unknown field, is refused; the mode is unchanged."""
    answer = sim.client.put("/_sim/mode", json={"idempotency": False, "ttl": 3})

    assert 400 == answer.status_code
    error = answer.json()["error"]
    assert ("validation_error", {"idempotency", "ttl"}) == (
        error["code"],
        {d["field"] for d in error["details"]},
    )
    assert {"idempotency": "on"} == sim.client.get("/_sim/mode").json()


def test_read_after_and_limit_and_reset(sim: Simulator) -> None:
    """`after` skips entries up to a seq, `limit` caps the answer, a bad query is a 400, and
    reset forgets the log and numbers from 1 again."""
    for _ in range(4):
        sim.post_payment(payment_body())
    wait_answered(sim, 4)

    tail = requests_of(sim, after=2)
    capped = requests_of(sim, after=1, limit=2)
    mark = requests_of(sim, limit=0)
    bad = sim.client.get("/_sim/requests", params={"after": "-1", "limit": "x"})
    sim.client.post("/_sim/reset")
    sim.post_payment(payment_body())
    fresh = wait_answered(sim, 1)

    assert [3, 4] == [e["seq"] for e in tail["requests"]]
    assert [2, 3] == [e["seq"] for e in capped["requests"]]
    assert (4, []) == (mark["last_seq"], mark["requests"])
    assert 400 == bad.status_code
    assert {"after", "limit"} == {d["field"] for d in bad.json()["error"]["details"]}
    assert [1] == [e["seq"] for e in fresh]
