"""Exactly-once effects under faults (SPEC §6), against the running local stack.

At-least-once queues and callbacks, crashes and a flaky bank: every accepted payment must
end final (none lost), none may be charged twice, and a status never moves backwards or out
of a final state. Sizes fit CI; RELIABILITY_SCALE multiplies them (`make soak`: ten times).

The bank simulator is the witness, not the guard: its request log (every POST /payments,
what it answered and when) is judged by tests/reliability/oracle.py, which does not rely on
the bank's idempotency. Per scenario the battery asserts and prints: bank POSTs; resends
after a 202 the gateway had received (none without crashes; with SIGKILLs only inside a
kill window, or a concurrent second delivery of the payment, together at most the killed
batches' messages); the charges a bank without idempotency would have taken on top (at most one
per unknown outcome, plus the messages of the batches a kill failed); `failed` payments
against the bound the fault mix predicts; and proof that each fault fired. Each scenario
also runs once, smaller, against `idempotency: off`, where the bank really takes those
extra charges and its records must agree with the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from local.stack import LocalStack
from tests.conftest import Merchant
from tests.reliability.oracle import (
    ChargeReport,
    Window,
    by_payment,
    fail_all_probability,
    judge,
    upper_bound,
)
from tests.reliability.support import (
    FLAKY_BANK,
    FORWARD_ATTEMPTS,
    LEAST_RETRY_S,
    READ_TIMEOUT_S,
    UNAVAILABLE_FIRST_CARD,
    BankLog,
    Kill,
    PaymentsTable,
    Settlement,
    Submitted,
    bank_records,
    kill_forwarder_while_submitting,
    scale,
    scaled,
    set_faults,
    set_mode,
    submit_many,
    unexpected_outcomes,
    wait_all_final,
)

pytestmark = pytest.mark.reliability

ACCEPTED_BY_BANK = frozenset({"succeeded", "declined"})


@pytest.fixture(scope="module")
def table(stack: LocalStack) -> PaymentsTable:
    """The stack's payments table, read directly."""
    return PaymentsTable(stack)


@pytest.fixture
def shop(stack: LocalStack, request: pytest.FixtureRequest) -> Merchant:
    """A merchant of this scenario alone, so that what the bank received under its id can be
    compared with what the gateway stored for it."""
    created = stack.register_merchant(f"reliability {request.node.name}"[:100])
    return Merchant(created["merchant_id"], created["api_key"])


def settle_timeout() -> float:
    """How long a burst may take to settle: generous for CI, scaled for the soak."""
    return 150.0 * scale()


@dataclass
class Run:
    """One scenario's inputs to the checks."""

    submitted: Submitted
    settlement: Settlement
    log: BankLog
    idempotency: str = "on"
    error_rate: float = 0.0
    kills: list[Kill] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """The payments the merchant API accepted."""
        return list(self.submitted.cards)


@dataclass
class Outcome:
    """What a scenario produced, as the bank's records, its request log and the payments
    table show it (measured before anything is asserted, so every figure gets printed)."""

    records: dict[str, Any]
    report: ChargeReport
    grouped: dict[str, list[dict[str, Any]]]
    created: set[str]
    at_bank: set[str]
    unknown: list[str]
    lost: list[str]
    failed: list[str]
    failed_bound: int
    killed_messages: int
    double_charged: int

    @property
    def extra_bound(self) -> int:
        """Extra charges a bank without idempotency may take: one per unknown outcome (the
        gateway had to ask again) plus the messages of the batches a kill failed."""
        return self.report.held_202 + self.killed_messages


def measure(
    bank: httpx.Client,
    table: PaymentsTable,
    shop: Merchant,
    run: Run,
    figures: dict[str, Any],
) -> Outcome:
    """Read the bank, its log and the table after a scenario, and record the figures."""
    ids = run.ids
    records = bank_records(bank, ids)
    posts = run.log.posts()
    windows: list[Window] = [w for kill in run.kills for w in kill.windows]
    report = judge(posts, ids, READ_TIMEOUT_S, windows, LEAST_RETRY_S)
    accepted_ids = {p["payment_request_id"] for p in posts if p["status"] == 202}
    failed = [i for i in ids if run.settlement.rows.get(i, {}).get("status") == "failed"]
    probabilities = [
        fail_all_probability(FORWARD_ATTEMPTS, run.error_rate, card == UNAVAILABLE_FIRST_CARD)
        for card in run.submitted.cards.values()
    ]
    if run.idempotency == "on":
        charged_twice = sum(1 for r in records.values() if r and r["charges"] > 1)
        double_charged = charged_twice + run.log.double_charged_since()
    else:  # the charges such a bank really took on top
        double_charged = sum(max(0, (r or {}).get("charges", 0) - 1) for r in records.values())
    outcome = Outcome(
        records=records,
        report=report,
        grouped=by_payment(posts),
        created=table.created_for(shop.id),
        at_bank={p["payment_request_id"] for p in posts if p["merchant_id"] == shop.id},
        unknown=sorted(accepted_ids - set(table.read(accepted_ids))),
        lost=run.settlement.open_or_missing(ids),
        failed=failed,
        failed_bound=upper_bound(probabilities),
        killed_messages=sum(f.messages for kill in run.kills for f in kill.failed),
        double_charged=double_charged,
    )
    figures.update(
        idempotency=run.idempotency,
        payments=len(ids),
        posts=report.posts,
        resends=(
            f"{len(report.resends_after_known_202)} ({len(report.excused_by_kill)} in kills, "
            f"{len(report.concurrent_resends)} conc.)"
        ),
        extra=f"{report.extra_charges} <= {outcome.extra_bound}",
        failed=f"{len(failed)} <= {outcome.failed_bound} (~{sum(probabilities):.2f})",
        lost=len(outcome.lost),
        double_charged=double_charged,
        submit_s=round(run.submitted.seconds, 1),
        settle_s=round(run.settlement.seconds, 1),
    )
    return outcome


def check_exactly_once(run: Run, outcome: Outcome) -> None:
    """Assert: nothing refused or lost, nothing charged twice by an idempotent bank, every
    outcome the card's (or failed and never charged), no backward move; then the charge
    oracle's checks."""
    lost, records = outcome.lost, outcome.records
    assert [] == lost, f"{len(lost)} payments not final: {lost[:5]}"
    if run.idempotency == "on":
        assert 0 == outcome.double_charged
    assert [] == unexpected_outcomes(run.submitted.cards, run.settlement.rows, records)
    assert ([], []) == (run.settlement.backward_moves, run.settlement.changed_after_final)
    check_charges(run, outcome)
    check_failed(run, outcome)
    # Last, so that a refusal (the local emulation fails a submission now and then under
    # load) still lets every other check run on the payments that were accepted.
    assert [] == run.submitted.refused


def check_charges(run: Run, outcome: Outcome) -> None:
    """The oracle's checks on the request log; see the module docstring."""
    ids, report, records, grouped = run.ids, outcome.report, outcome.records, outcome.grouped

    # Ids: what the bank received under this merchant is what the gateway created for it,
    # and nothing was accepted under an id the gateway never created (any merchant).
    assert set(ids) == outcome.created
    assert outcome.created == outcome.at_bank, (
        f"only at the bank {outcome.at_bank - outcome.created}, "
        f"never sent {outcome.created - outcome.at_bank}"
    )
    assert [] == outcome.unknown, "charged under an id the gateway never created"

    # The log agrees with the bank's own records (posts with a valid body, charges).
    counted = {
        i: sum(1 for p in grouped.get(i, []) if p["outcome"] != "refused" or p["status"] == 422)
        for i in ids
    }
    assert counted == {i: (records[i] or {}).get("posts", 0) for i in ids}
    assert report.charged == {i: (records[i] or {}).get("charges", 0) for i in ids}

    # Charged once: by an idempotent bank, each accepted payment exactly once; without
    # idempotency, every accepted POST.
    accepted = [i for i in ids if run.settlement.rows[i]["status"] in ACCEPTED_BY_BANK]
    if run.idempotency == "on":
        assert {i: 1 for i in accepted} == {i: report.charged[i] for i in accepted}
    else:
        assert report.accepted == report.charged
        assert report.extra_charges == outcome.double_charged
    assert all(report.accepted[i] >= 1 for i in accepted)

    # Resends after a known 202: none, except a batch's that a kill cut short.
    windows = [(round(w.start, 3), round(w.end, 3)) for k in run.kills for w in k.windows]
    assert [] == report.unexcused_resends, f"kill windows {windows}"
    if not run.kills:
        assert [] == report.concurrent_resends, "two deliveries of a payment without a crash"
    explained = len(report.excused_by_kill) + len(report.concurrent_resends)
    assert explained <= outcome.killed_messages
    assert report.extra_charges <= outcome.extra_bound, (
        f"{report.extra_charges} extra charges (after a known 202 {report.extra_after_known},"
        f" after an unknown outcome {report.extra_after_unknown},"
        f" concurrent {report.extra_concurrent}) above {outcome.extra_bound}"
    )


def check_failed(run: Run, outcome: Outcome) -> None:
    """`failed` is right only for a payment the bank never accepted, every POST refused
    (503); how many may end so is bounded by the fault mix's probability of that."""
    grouped = outcome.grouped
    defects = [
        i
        for i in outcome.failed
        if outcome.report.accepted[i]
        or not grouped.get(i)
        or {p["status"] for p in grouped[i]} != {503}
    ]
    assert [] == defects, "failed, yet the bank accepted it or not every attempt was refused"
    assert len(outcome.failed) <= outcome.failed_bound


# -- the scenarios ---------------------------------------------------------------------------


def flaky_bank(
    api: httpx.Client, bank: httpx.Client, shop: Merchant, table: PaymentsTable, count: int
) -> Run:
    """30% of POSTs answer 503, 10% of charges answer 3 s late (past the 1.5 s read
    timeout), every call +20 ms."""
    log = BankLog(bank)
    set_faults(bank, **FLAKY_BANK, seed=7)
    submitted = submit_many(api, shop, count)
    settlement = wait_all_final(table, list(submitted.cards), settle_timeout())
    return Run(submitted, settlement, log, error_rate=FLAKY_BANK["error_rate"])


def prove_flaky_bank(run: Run, report: ChargeReport, figures: dict[str, Any]) -> None:
    """Retries happened: more POSTs than payments, 503s answered, answers held past the
    read timeout."""
    figures["faults"] = (
        f"503 30%, timeout 10%, +20ms: {report.answered_503} 503s, "
        f"{report.held_202} held 202s, {report.posts - len(run.ids)} retried POSTs"
    )
    assert report.posts > len(run.ids)
    assert (True, True) == (report.answered_503 > 0, report.held_202 > 0)


def forwarder_killed(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    stack: LocalStack,
    table: PaymentsTable,
    count: int,
    kills: int,
) -> Run:
    """The forwarder is SIGKILLed `kills` times while batches are in flight, then started
    again."""
    log = BankLog(bank)
    submitted, done = kill_forwarder_while_submitting(api, shop, stack, count, kills, seed=11)
    settlement = wait_all_final(table, list(submitted.cards), settle_timeout())
    return Run(submitted, settlement, log, kills=done)


def prove_kills(run: Run, figures: dict[str, Any]) -> None:
    """Every kill failed at least one invocation in flight (the event source's record)."""
    hit = [len(kill.failed) for kill in run.kills]
    messages = sum(f.messages for kill in run.kills for f in kill.failed)
    down = sum(kill.downtime for kill in run.kills) / len(run.kills)
    figures["faults"] = (
        f"{len(run.kills)} SIGKILLs of the forwarder, down {down:.1f}s each, "
        f"batches failed per kill {hit} ({messages} messages)"
    )
    assert all(count >= 1 for count in hit), f"a kill hit no batch in flight: {hit}"


def dropped_callbacks(
    api: httpx.Client, bank: httpx.Client, shop: Merchant, table: PaymentsTable, count: int
) -> Run:
    """20% of payments never get their callbacks."""
    log = BankLog(bank)
    set_faults(bank, drop_callback_rate=0.2, seed=5)
    submitted = submit_many(api, shop, count, offset=2)
    settlement = wait_all_final(table, list(submitted.cards), settle_timeout())
    return Run(submitted, settlement, log)


def prove_dropped(records: dict[str, Any], figures: dict[str, Any]) -> None:
    """Some callbacks were dropped."""
    dropped = sum(1 for r in records.values() if r and r["callbacks_dropped"])
    figures["faults"] = f"callbacks dropped for {dropped} payments"
    assert dropped > 0, "the fault was not injected"


def duplicated_callbacks(
    api: httpx.Client, bank: httpx.Client, shop: Merchant, table: PaymentsTable, count: int
) -> tuple[Run, Settlement]:
    """Every callback sent five times, the final status before a stale PROCESSING; the
    table read again 3 s after settling, once the late copies have come."""
    log = BankLog(bank)
    set_faults(bank, duplicate_callbacks=5, out_of_order=True, seed=3)
    submitted = submit_many(api, shop, count, offset=3)
    ids = list(submitted.cards)
    settlement = wait_all_final(table, ids, settle_timeout())
    # The late duplicates and stale PROCESSING callbacks keep coming after the final one.
    time.sleep(3)
    return Run(submitted, settlement, log), wait_all_final(table, ids, 0)


def prove_duplicates(
    run: Run, records: dict[str, Any], later: Settlement, figures: dict[str, Any]
) -> None:
    """The copies were sent, and none changed a final payment."""
    sent = sum(r["callbacks_sent"] for r in records.values() if r)
    figures["faults"] = f"x5 duplicates, out of order: {sent} callbacks"
    assert sent >= 5 * len(run.ids)

    def final(rows: dict[str, dict[str, Any]], i: str) -> tuple[Any, ...]:
        return (rows[i]["status"], rows[i]["decline_reason"], rows[i]["version"])

    moved = sorted(i for i in run.ids if final(later.rows, i) != final(run.settlement.rows, i))
    assert [] == moved, "a late duplicate or stale callback changed a final payment"


# -- against an idempotent bank (the contract) ------------------------------------------------


def test_flaky_bank_every_payment_final_none_charged_twice(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """30% of bank POSTs answer 503, 10% are charged but answer too late (a timeout), every
    call is slowed: retries with back-off and the give-up path still end every payment
    final, each charged at most once, none resent after a 202 the gateway had."""
    run = flaky_bank(api, bank, shop, table, scaled(300))

    outcome = measure(bank, table, shop, run, figures)

    prove_flaky_bank(run, outcome.report, figures)
    check_exactly_once(run, outcome)


def test_forwarder_killed_repeatedly_none_lost_none_charged_twice(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    stack: LocalStack,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """The queue consumer is SIGKILLed at random moments while batches are in flight, then
    started again: those batches die with it, yet every payment ends final, charged once,
    and a 202 is asked for again only if a kill cut its batch short."""
    run = forwarder_killed(api, bank, shop, stack, table, scaled(300), 3 * scale())

    outcome = measure(bank, table, shop, run, figures)

    prove_kills(run, figures)
    check_exactly_once(run, outcome)


def test_dropped_callbacks_are_settled_by_the_reconciler(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """20% of payments never get their callbacks: the reconciler asks the bank and brings
    every one to its final status, with no second POST."""
    run = dropped_callbacks(api, bank, shop, table, scaled(100))

    outcome = measure(bank, table, shop, run, figures)

    prove_dropped(outcome.records, figures)
    check_exactly_once(run, outcome)


def test_duplicated_out_of_order_callbacks_apply_once(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    table: PaymentsTable,
    figures: dict[str, Any],
) -> None:
    """Every callback is sent five times, the final status before a stale PROCESSING: each
    payment takes its card's final status once, and never moves back or changes after."""
    run, later = duplicated_callbacks(api, bank, shop, table, scaled(100))

    outcome = measure(bank, table, shop, run, figures)

    prove_duplicates(run, outcome.records, later, figures)
    check_exactly_once(run, outcome)


# -- against a bank without idempotency (what the gateway relies on) --------------------------


@pytest.mark.parametrize("scenario", ["flaky_bank", "forwarder_killed", "dropped_callbacks"])
def test_bank_without_idempotency_takes_only_the_bounded_extra_charges(
    api: httpx.Client,
    bank: httpx.Client,
    shop: Merchant,
    stack: LocalStack,
    table: PaymentsTable,
    figures: dict[str, Any],
    scenario: str,
) -> None:
    """A bank whose key store expired charges every accepted POST: the scenario, smaller,
    ends as against an idempotent bank, and the extra charges it really takes are the log's
    (at most one per unknown outcome plus the killed batches' messages; none otherwise)."""
    figures["test"] = f"no idempotency: {scenario}"[:26]
    set_mode(bank, "off")
    if scenario == "flaky_bank":
        run = flaky_bank(api, bank, shop, table, scaled(150))
    elif scenario == "forwarder_killed":
        run = forwarder_killed(api, bank, shop, stack, table, scaled(100), 2 * scale())
    else:
        run = dropped_callbacks(api, bank, shop, table, scaled(30))
    run.idempotency = "off"
    mode_after = bank.get("/_sim/mode").json()

    outcome = measure(bank, table, shop, run, figures)

    if scenario == "flaky_bank":
        prove_flaky_bank(run, outcome.report, figures)
    elif scenario == "forwarder_killed":
        prove_kills(run, figures)
    else:
        prove_dropped(outcome.records, figures)
        assert 0 == outcome.double_charged
    assert {"idempotency": "off"} == mode_after, "the bank was idempotent after all"
    check_exactly_once(run, outcome)
