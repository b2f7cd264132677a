"""The charge oracle (tests/reliability/oracle.py) on hand-made request logs: each figure the
battery asserts can come out wrong, and does when the log shows the defect."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.oracle import (
    Window,
    fail_all_probability,
    judge,
    upper_bound,
)

pytestmark = pytest.mark.unit

PAYMENT = "3f1d0c5e-7c1b-4d7e-9a57-2f4f3f0e8a11"
TIMEOUT_S = 1.5


def post(seq: int, status: int, received: float, answered: float | None) -> dict[str, Any]:
    """One request-log entry of PAYMENT."""
    outcome = {202: "charged" if seq == 1 else "repeat", 503: "unavailable"}[status]
    return {
        "seq": seq,
        "payment_request_id": PAYMENT,
        "status": status,
        "outcome": outcome,
        "received_monotonic": received,
        "answered_monotonic": answered,
    }


def test_resend_after_a_known_202_is_flagged_and_is_an_extra_charge() -> None:
    """A POST after a 202 written in 0.1 s is a resend after a known outcome, unexcused
    without kills, and one extra charge for a bank without idempotency."""
    log = [post(1, 202, 10.0, 10.1), post(2, 202, 30.0, 30.1)]

    report = judge(log, [PAYMENT], TIMEOUT_S)

    expected = (
        f"{PAYMENT} POST #2 after the 202 of #1 (written in 0.100s at 10.100, resent 19.900s later)"
    )
    assert [expected] == report.unexcused_resends
    assert (1, 1, 0, 0) == (
        report.extra_charges,
        report.extra_after_known,
        report.extra_after_unknown,
        report.extra_concurrent,
    )
    assert (2, 0, 0) == (report.posts, report.answered_503, report.held_202)


def test_resend_is_excused_only_when_its_202_came_inside_a_kill_window() -> None:
    """The same resend is excused by a window holding the first 202's answer time, not by
    one that ends before it."""
    log = [post(1, 202, 10.0, 10.1), post(2, 202, 30.0, 30.1)]

    inside = judge(log, [PAYMENT], TIMEOUT_S, [Window(9.9, 10.2)])
    before = judge(log, [PAYMENT], TIMEOUT_S, [Window(9.0, 10.05)])

    assert ([], 1) == (inside.unexcused_resends, len(inside.excused_by_kill))
    assert (1, []) == (len(before.unexcused_resends), before.excused_by_kill)


def test_retry_after_a_held_202_is_an_unknown_outcome_not_a_resend() -> None:
    """A 202 written 3 s late (past the 1.5 s read timeout) is unknown to the gateway: the
    retry that came during the hold is no resend after a known 202, but an extra charge."""
    log = [post(1, 202, 10.0, 13.0), post(2, 503, 12.0, 12.0), post(3, 202, 12.6, 12.7)]

    report = judge(log, [PAYMENT], TIMEOUT_S)

    assert ([], 1, 1) == (report.resends_after_known_202, report.held_202, report.answered_503)
    assert (1, 1) == (report.extra_charges, report.extra_after_unknown)
    assert ({PAYMENT: 2}, {PAYMENT: 1}) == (report.accepted, report.charged)


def test_two_deliveries_at_once_are_concurrent_extra_charges() -> None:
    """A second POST arriving while the first (answered in time) is still being answered is
    a concurrent duplicate: an extra charge, but no resend after a known 202."""
    log = [post(1, 202, 10.0, 10.3), post(2, 202, 10.1, 10.2)]

    report = judge(log, [PAYMENT], TIMEOUT_S)

    assert ([], 1, 1) == (
        report.resends_after_known_202,
        report.extra_charges,
        report.extra_concurrent,
    )


def test_a_payment_never_posted_has_no_posts_and_no_charges() -> None:
    """A payment missing from the log counts zero POSTs and zero accepted ones."""
    report = judge([post(1, 202, 1.0, 1.1)], ["00000000-0000-4000-8000-000000000000"], TIMEOUT_S)

    assert (0, {"00000000-0000-4000-8000-000000000000": 0}) == (report.posts, report.accepted)


def test_fail_all_probability_counts_only_refused_posts() -> None:
    """All of 6 POSTs refused: 0.3^6; for the 503-first card, also one passing the draw."""
    assert 0.3**6 == pytest.approx(fail_all_probability(6, 0.3, first_post_503=False))
    expected = 0.3**6 + 6 * 0.7 * 0.3**5
    assert expected == pytest.approx(fail_all_probability(6, 0.3, first_post_503=True))


@pytest.mark.parametrize(
    ("probabilities", "tail", "expected"),
    [
        ([0.5, 0.5], 0.25, 1),  # P(X > 1) = 0.25
        ([0.5, 0.5], 0.2, 2),
        ([0.0] * 100, 1e-6, 0),
        ([1.0] * 3, 1e-6, 3),
        ([0.001] * 500, 1e-6, 6),  # Poisson(0.5): P(X > 6) ~ 1e-6
    ],
)
def test_upper_bound_is_the_binomial_tail_quantile(
    probabilities: list[float], tail: float, expected: int
) -> None:
    """The bound is the smallest k whose tail P(X > k) is at most `tail`."""
    assert expected == upper_bound(probabilities, tail)


def test_resend_sooner_than_any_retry_is_a_concurrent_delivery() -> None:
    """A POST 0.06 s after a known 202, sooner than the least retry back-off (0.5 s), is a
    second delivery in flight at once: counted apart, not unexcused; later it would be."""
    log = [post(1, 202, 10.0, 10.1), post(2, 202, 10.16, 10.2)]

    soon = judge(log, [PAYMENT], TIMEOUT_S, concurrent_s=0.5)
    strict = judge(log, [PAYMENT], TIMEOUT_S, concurrent_s=0.05)

    assert ([], 1) == (soon.unexcused_resends, len(soon.concurrent_resends))
    assert (1, []) == (len(strict.unexcused_resends), strict.concurrent_resends)


def test_actions_are_judged_by_action_id_and_an_applied_one_counts() -> None:
    """With key="action_id" the log's refunds of one payment are judged per action: a second
    POST of the same action after its known 202 is a resend, another action's is not, and an
    `applied` answer counts as money moved."""
    first, second = "9a1d0c5e-7c1b-4d7e-9a57-2f4f3f0e8a11", "8b1d0c5e-7c1b-4d7e-9a57-2f4f3f0e8a11"
    log = [
        {**post(1, 202, 10.0, 10.1), "action_id": first, "outcome": "applied"},
        {**post(2, 202, 11.0, 11.1), "action_id": second, "outcome": "applied"},
        {**post(3, 202, 30.0, 30.1), "action_id": first, "outcome": "repeat"},
    ]

    report = judge(log, [first, second], TIMEOUT_S, key="action_id")

    assert ({first: 1, second: 1}, 3) == (report.charged, report.posts)
    assert [f"{first} POST #3 after the 202 of #1"] == [
        r.split(" (")[0] for r in report.unexcused_resends
    ]
