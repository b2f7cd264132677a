"""The PaymentRequest state machine: allowed moves, final states, and the sealed card's life."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from shared_kernel.domain.errors import InvalidTransition
from shared_kernel.domain.payment import (
    DeclineReason,
    FailureReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)

from .builders import (
    CREATED_AT,
    DO_NOT_HONOR,
    FAILED,
    FRAUD,
    INSUFFICIENT_FUNDS,
    PAID,
    PROCESSING,
    outcome_id,
    pending_payment,
)
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

LATER = CREATED_AT + timedelta(seconds=5)
PENDING = Outcome(PaymentStatus.PENDING)
FINAL_OUTCOMES = [PAID, INSUFFICIENT_FUNDS, FRAUD, DO_NOT_HONOR, FAILED]
ALL_OUTCOMES = [PENDING, PROCESSING, *FINAL_OUTCOMES]


def a_pending_payment() -> PaymentRequest:
    """A fresh pending payment with its card sealed."""
    return pending_payment(ReversibleCipher())


def a_payment_in(outcome: Outcome) -> PaymentRequest:
    """A payment moved from pending to `outcome` (or left pending)."""
    payment = a_pending_payment()
    if outcome != PENDING:
        payment.apply(outcome, CREATED_AT + timedelta(seconds=1))
    return payment


@pytest.mark.parametrize("outcome", [PROCESSING, *FINAL_OUTCOMES], ids=outcome_id)
def test_pending_moves_to_processing_or_any_final_state(outcome: Outcome) -> None:
    """From pending, processing and every final state are reachable."""
    payment = a_pending_payment()
    changed = payment.apply(outcome, LATER, "bank-ref-1")
    assert (True, outcome.status, outcome.decline_reason, "bank-ref-1", LATER) == (
        changed,
        payment.status,
        payment.decline_reason,
        payment.bank_reference,
        payment.updated_at,
    )


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES, ids=outcome_id)
def test_processing_moves_to_any_final_state(outcome: Outcome) -> None:
    """From processing, every final state is reachable."""
    payment = a_payment_in(PROCESSING)
    assert (True, outcome.status, outcome.decline_reason) == (
        payment.apply(outcome, LATER),
        payment.status,
        payment.decline_reason,
    )


@pytest.mark.parametrize("outcome", ALL_OUTCOMES, ids=outcome_id)
def test_repeating_the_current_status_changes_nothing(outcome: Outcome) -> None:
    """Applying the status a payment already has returns False and leaves it as it was."""
    payment = a_payment_in(outcome)
    before = payment.copy()
    assert (False, before) == (payment.apply(outcome, LATER), payment)


@pytest.mark.parametrize(
    ("current", "target"),
    [(c, t) for c in FINAL_OUTCOMES for t in ALL_OUTCOMES if t != c],
    ids=outcome_id,
)
def test_final_states_are_final(current: Outcome, target: Outcome) -> None:
    """Any move out of a final state raises InvalidTransition and changes nothing."""
    payment = a_payment_in(current)
    before = payment.copy()
    with pytest.raises(InvalidTransition):
        payment.apply(target, LATER)
    assert before == payment


def test_processing_cannot_move_back_to_pending() -> None:
    """processing -> pending raises InvalidTransition and changes nothing."""
    payment = a_payment_in(PROCESSING)
    before = payment.copy()
    with pytest.raises(InvalidTransition):
        payment.apply(PENDING, LATER)
    assert before == payment


def test_a_repeated_decline_must_give_the_same_reason() -> None:
    """A declined payment refuses a decline with another reason, and keeps its own."""
    payment = a_payment_in(INSUFFICIENT_FUNDS)
    with pytest.raises(InvalidTransition):
        payment.apply(FRAUD, LATER)
    assert DeclineReason.INSUFFICIENT_FUNDS == payment.decline_reason


def test_a_decline_reason_goes_only_with_a_declined_status() -> None:
    """An Outcome refuses a decline without a reason, or a reason without a decline."""
    with pytest.raises(ValueError, match="decline reason"):
        Outcome(PaymentStatus.DECLINED)
    with pytest.raises(ValueError, match="decline reason"):
        Outcome(PaymentStatus.SUCCEEDED, DeclineReason.DO_NOT_HONOR)


def test_a_new_payment_is_pending_with_its_card_sealed() -> None:
    """PaymentRequest.accept gives a pending payment holding a sealed card, version 0."""
    payment = a_pending_payment()
    assert (PaymentStatus.PENDING, True, 0, None) == (
        payment.status,
        payment.sealed_card is not None,
        payment.version,
        payment.decline_reason,
    )


def test_bank_acceptance_moves_to_processing_and_drops_the_card() -> None:
    """record_bank_acceptance: pending -> processing, bank reference kept, card gone."""
    payment = a_pending_payment()
    changed = payment.record_bank_acceptance("bank-ref-1", LATER)
    assert (True, PaymentStatus.PROCESSING, "bank-ref-1", None, LATER) == (
        changed,
        payment.status,
        payment.bank_reference,
        payment.sealed_card,
        payment.updated_at,
    )


def test_bank_acceptance_twice_changes_nothing_the_second_time() -> None:
    """A second record_bank_acceptance returns False and keeps the first bank reference."""
    payment = a_pending_payment()
    payment.record_bank_acceptance("bank-ref-1", LATER)
    before = payment.copy()
    assert (False, before) == (
        payment.record_bank_acceptance("bank-ref-2", LATER + timedelta(1)),
        payment,
    )


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES, ids=outcome_id)
def test_reaching_a_final_state_drops_the_card(outcome: Outcome) -> None:
    """A pending payment settled directly (callback before acceptance) loses its card."""
    payment = a_pending_payment()
    payment.apply(outcome, LATER)
    assert None is payment.sealed_card


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES, ids=outcome_id)
def test_bank_acceptance_after_a_final_state_keeps_it(outcome: Outcome) -> None:
    """A late record_bank_acceptance on a settled payment does not change its status."""
    payment = a_payment_in(outcome)
    payment.record_bank_acceptance("bank-ref-1", LATER)
    assert (outcome.status, outcome.decline_reason, None) == (
        payment.status,
        payment.decline_reason,
        payment.sealed_card,
    )


def test_fail_records_the_reason_and_drops_the_card() -> None:
    """fail() on a pending payment makes it failed with its reason, card gone."""
    payment = a_pending_payment()
    assert (True, PaymentStatus.FAILED, FailureReason.BANK_REJECTED, None) == (
        payment.fail(FailureReason.BANK_REJECTED, LATER),
        payment.status,
        payment.failure_reason,
        payment.sealed_card,
    )


@pytest.mark.parametrize("outcome", FINAL_OUTCOMES, ids=outcome_id)
def test_fail_on_a_final_payment_changes_nothing(outcome: Outcome) -> None:
    """fail() on a final payment returns False and leaves it as it was."""
    payment = a_payment_in(outcome)
    before = payment.copy()
    assert (False, before) == (payment.fail(FailureReason.RETRIES_EXHAUSTED, LATER), payment)


def test_copy_is_independent() -> None:
    """Changing a copy leaves the original untouched (what the fakes rely on)."""
    payment = a_pending_payment()
    twin = payment.copy()
    twin.apply(PAID, LATER)
    assert (PaymentStatus.PENDING, PaymentStatus.SUCCEEDED) == (payment.status, twin.status)


def _move_is_allowed(current: PaymentRequest, outcome: Outcome) -> bool:
    """The rules of SPEC §4, written independently of PaymentRequest.apply."""
    if outcome.status is current.status:
        return outcome.decline_reason is current.decline_reason
    if current.status.is_final:
        return False
    return outcome.status is not PaymentStatus.PENDING


class PaymentLifecycle(RuleBasedStateMachine):
    """Random sequences of bank outcomes, acceptances and failures on one payment."""

    payment: PaymentRequest

    @initialize()
    def accept(self) -> None:
        self.payment = a_pending_payment()
        self.original = self.payment.copy()
        self.tick = 0
        self.max_rank = 0
        self.first_final: tuple[PaymentStatus, DeclineReason | None] | None = None

    def _at(self) -> datetime:
        self.tick += 1
        return CREATED_AT + timedelta(seconds=self.tick)

    @rule(outcome=st.sampled_from(ALL_OUTCOMES), bank_reference=st.sampled_from([None, "r1"]))
    def apply(self, outcome: Outcome, bank_reference: str | None) -> None:
        before = self.payment.copy()
        allowed = _move_is_allowed(before, outcome)
        try:
            self.payment.apply(outcome, self._at(), bank_reference)
        except InvalidTransition:
            assert (False, before) == (allowed, self.payment)
        else:
            assert (True, outcome.status) == (allowed, self.payment.status)

    @rule(bank_reference=st.sampled_from(["r1", "r2"]))
    def record_bank_acceptance(self, bank_reference: str) -> None:
        before = self.payment.status
        self.payment.record_bank_acceptance(bank_reference, self._at())
        expected = PaymentStatus.PROCESSING if before is PaymentStatus.PENDING else before
        assert expected == self.payment.status

    @rule(reason=st.sampled_from(list(FailureReason)))
    def fail(self, reason: FailureReason) -> None:
        was_final = self.payment.status.is_final
        assert (not was_final) == self.payment.fail(reason, self._at())

    @invariant()
    def final_states_are_final(self) -> None:
        current = (self.payment.status, self.payment.decline_reason)
        if self.first_final is None and self.payment.status.is_final:
            self.first_final = current
        assert self.first_final in (None, current)

    @invariant()
    def money_merchant_and_card_never_change(self) -> None:
        expected = (self.original.money, self.original.merchant_id, self.original.card)
        assert expected == (self.payment.money, self.payment.merchant_id, self.payment.card)

    @invariant()
    def status_never_moves_backwards(self) -> None:
        assert self.max_rank <= self.payment.status.rank
        self.max_rank = self.payment.status.rank

    @invariant()
    def card_is_sealed_only_while_pending(self) -> None:
        if self.payment.status is not PaymentStatus.PENDING:
            assert None is self.payment.sealed_card


def test_random_lifecycles_keep_every_invariant() -> None:
    """Hypothesis: final states are final, the status never moves back, the card goes."""
    run_state_machine_as_test(
        PaymentLifecycle,
        settings=settings(max_examples=500, stateful_step_count=20, deadline=None),
    )
