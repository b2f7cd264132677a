"""Exactly-once effects under faults (SPEC §6), against the running local stack.

At-least-once queues and callbacks, crashes and a flaky bank: every accepted payment must
end final (none lost), none may be charged twice, and a status never moves backwards or out
of a final state. Sizes fit CI; RELIABILITY_SCALE multiplies them (`make soak`: ten times).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.conftest import Merchant
from tests.reliability.support import (
    PaymentsTable,
    Settlement,
    Submitted,
    bank_records,
    scale,
    scaled,
    set_faults,
    submit_many,
    unexpected_outcomes,
    wait_all_final,
)

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def table(stack: LocalStack) -> PaymentsTable:
    """The stack's payments table, read directly."""
    return PaymentsTable(stack)


def settle_timeout() -> float:
    """How long a burst may take to settle: generous for CI, scaled for the soak."""
    return 150.0 * scale()


def check_exactly_once(
    bank: httpx.Client,
    submitted: Submitted,
    settlement: Settlement,
    figures: dict[str, Any],
) -> dict[str, Any]:
    """Record the common figures and assert: nothing refused or lost, nothing charged
    twice, every outcome the card's (or failed and never charged), no backward move."""
    ids = list(submitted.cards)
    records = bank_records(bank, ids)
    stats = bank.get("/_sim/stats").json()
    lost = settlement.open_or_missing(ids)
    charged_twice = sorted(i for i, r in records.items() if r and r["charges"] > 1)
    figures.update(
        payments=len(ids),
        lost=len(lost),
        double_charged=len(charged_twice) + stats["double_charged"],
        submit_s=round(submitted.seconds, 1),
        settle_s=round(settlement.seconds, 1),
    )
    assert [] == submitted.refused
    assert [] == lost, f"{len(lost)} payments not final: {lost[:5]}"
    assert ([], 0) == (charged_twice, stats["double_charged"])
    assert [] == unexpected_outcomes(submitted.cards, settlement.rows, records)
    assert ([], []) == (settlement.backward_moves, settlement.changed_after_final)
    return records


def test_flaky_bank_every_payment_final_none_charged_twice(
    api: httpx.Client,
    bank: httpx.Client,
    merchant: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """30% of bank POSTs answer 503, 10% are charged but answer too late (a timeout), every
    call is slowed: retries with back-off and the give-up path still end every payment
    final, each charged at most once."""
    set_faults(bank, error_rate=0.3, timeout_rate=0.1, timeout_ms=3000, latency_ms=20, seed=7)
    submitted = submit_many(api, merchant, scaled(500))
    settlement = wait_all_final(table, list(submitted.cards), settle_timeout())

    records = check_exactly_once(bank, submitted, settlement, figures)

    posts = sum(r["posts"] for r in records.values() if r)
    retries = posts - sum(1 for r in records.values() if r)
    figures["faults"] = f"503 30%, timeout 10%, +20ms: {retries} retried POSTs"


def test_forwarder_killed_repeatedly_none_lost_none_charged_twice(
    api: httpx.Client,
    bank: httpx.Client,
    merchant: Merchant,
    stack: LocalStack,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """The queue consumer is SIGKILLed at random moments while payments flow, then started
    again: batches in flight die with it, yet every payment ends final, charged once."""
    kills = 3 * scale()
    done = threading.Event()
    submitted: list[Submitted] = []
    downtimes: list[float] = []

    def submit() -> None:
        try:
            submitted.append(submit_many(api, merchant, scaled(300), offset=1))
        finally:
            done.set()

    chaos = random.Random(11)
    sender = threading.Thread(target=submit, name="reliability-submit")
    sender.start()
    for _ in range(kills):
        time.sleep(chaos.uniform(0.5, 3.0))
        downtimes.append(stack.restart("bank-forwarder"))
    sender.join()
    settlement = wait_all_final(table, list(submitted[0].cards), settle_timeout())

    check_exactly_once(bank, submitted[0], settlement, figures)
    figures["faults"] = (
        f"{kills} SIGKILLs of the forwarder, down {sum(downtimes) / kills:.1f}s each"
    )


def test_dropped_callbacks_are_settled_by_the_reconciler(
    api: httpx.Client,
    bank: httpx.Client,
    merchant: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """20% of payments never get their callbacks: the reconciler asks the bank and brings
    every one to its final status."""
    set_faults(bank, drop_callback_rate=0.2, seed=5)
    submitted = submit_many(api, merchant, scaled(100), offset=2)
    settlement = wait_all_final(table, list(submitted.cards), settle_timeout())

    records = check_exactly_once(bank, submitted, settlement, figures)

    dropped = sum(1 for r in records.values() if r and r["callbacks_dropped"])
    figures["faults"] = f"callbacks dropped for {dropped} payments"
    assert dropped > 0, "the fault was not injected"


def test_duplicated_out_of_order_callbacks_apply_once(
    api: httpx.Client,
    bank: httpx.Client,
    merchant: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """Every callback is sent five times, the final status before a stale PROCESSING: each
    payment takes its card's final status once, and never moves back or changes after."""
    set_faults(bank, duplicate_callbacks=5, out_of_order=True, seed=3)
    submitted = submit_many(api, merchant, scaled(100), offset=3)
    ids = list(submitted.cards)
    settlement = wait_all_final(table, ids, settle_timeout())
    # The late duplicates and stale PROCESSING callbacks keep coming after the final one.
    time.sleep(3)
    later = wait_all_final(table, ids, 0)

    records = check_exactly_once(bank, submitted, settlement, figures)

    sent = sum(r["callbacks_sent"] for r in records.values() if r)
    figures["faults"] = f"x5 duplicates, out of order: {sent} callbacks"
    moved = sorted(
        i
        for i in ids
        if (later.rows[i]["status"], later.rows[i]["decline_reason"], later.rows[i]["version"])
        != (
            settlement.rows[i]["status"],
            settlement.rows[i]["decline_reason"],
            settlement.rows[i]["version"],
        )
    )
    assert [] == moved, "a late duplicate or stale callback changed a final payment"
