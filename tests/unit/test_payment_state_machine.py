"""The PaymentRequest state machine: allowed moves, final states, the sealed card's life, the
capture methods and, with Hypothesis, random captures, voids and refunds on one payment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from shared_kernel.domain.action import (
    ActionFailureReason,
    ActionStatus,
    ActionType,
    PaymentAction,
    RefundReason,
)
from shared_kernel.domain.errors import (
    ActionInProgress,
    AmountTooLarge,
    AuthorizationExpired,
    DomainError,
    InvalidTransition,
    PaymentUnexpectedState,
    RefundLimitReached,
    ValidationError,
)
from shared_kernel.domain.events import ActionEnded, PaymentStatusChanged
from shared_kernel.domain.money_movements import (
    MAX_REFUNDS,
    ActionRequested,
    expiry_void_due,
    request_capture,
    request_refund,
    request_void,
    settle_action,
)
from shared_kernel.domain.payment import (
    AUTHORIZATION_VALIDITY,
    CancellationReason,
    CaptureMethod,
    DeclineReason,
    FailureReason,
    Outcome,
    PaymentRequest,
    PaymentStatus,
)

from .builders import (
    AUTHORIZED,
    CREATED_AT,
    DO_NOT_HONOR,
    FAILED,
    FRAUD,
    INSUFFICIENT_FUNDS,
    PAID,
    PROCESSING,
    outcome_id,
    payment_in,
    pending_payment,
)
from .fakes import ReversibleCipher

pytestmark = pytest.mark.unit

LATER = CREATED_AT + timedelta(seconds=5)
PENDING = Outcome(PaymentStatus.PENDING)
CANCELED = Outcome(PaymentStatus.CANCELED)
FINAL_OUTCOMES = [PAID, INSUFFICIENT_FUNDS, FRAUD, DO_NOT_HONOR, FAILED]
ALL_OUTCOMES = [PENDING, PROCESSING, *FINAL_OUTCOMES]
# Every outcome a bank update could name, including those only manual payments reach.
EVERY_OUTCOME = [*ALL_OUTCOMES, AUTHORIZED, CANCELED]
MANUAL = CaptureMethod.MANUAL


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


# -- capture methods -----------------------------------------------------------------------


def a_manual_payment_in(*outcomes: Outcome) -> PaymentRequest:
    """A manual payment moved through `outcomes` by bank updates, its events pulled."""
    return payment_in(ReversibleCipher(), *outcomes, capture_method=MANUAL)


def test_a_manual_payment_is_authorised_until_a_capture_void_or_expiry() -> None:
    """pending -> processing -> authorized; capture_before is the AUTHORIZED update's time
    plus the validity; nothing is captured yet."""
    payment = a_manual_payment_in(PROCESSING)
    assert (True, PaymentStatus.AUTHORIZED, LATER + AUTHORIZATION_VALIDITY, 0, None) == (
        payment.apply(AUTHORIZED, LATER),
        payment.status,
        payment.capture_before,
        payment.amount_captured,
        payment.sealed_card,
    )


@pytest.mark.parametrize(
    ("payment", "outcome"),
    [
        pytest.param(lambda: a_manual_payment_in(), PAID, id="manual-pending-paid"),
        pytest.param(lambda: a_manual_payment_in(PROCESSING), PAID, id="manual-processing-paid"),
        pytest.param(lambda: a_manual_payment_in(PROCESSING, AUTHORIZED), PAID, id="manual-paid"),
        pytest.param(lambda: a_payment_in(PENDING), AUTHORIZED, id="automatic-authorized"),
        pytest.param(lambda: a_payment_in(PROCESSING), AUTHORIZED, id="automatic-processing"),
        pytest.param(lambda: a_payment_in(PAID), AUTHORIZED, id="automatic-paid-authorized"),
    ],
)
def test_a_bank_status_must_fit_the_capture_method(
    payment: Callable[[], PaymentRequest], outcome: Outcome
) -> None:
    """PAID for a manual payment and AUTHORIZED for an automatic one raise InvalidTransition
    and change nothing."""
    current = payment()
    before = current.copy()
    with pytest.raises(InvalidTransition, match="cannot make"):
        current.apply(outcome, LATER)
    assert before == current


@pytest.mark.parametrize(
    "outcome",
    [PENDING, PROCESSING, INSUFFICIENT_FUNDS, FRAUD, DO_NOT_HONOR, FAILED, CANCELED],
    ids=outcome_id,
)
def test_an_authorised_payment_moves_on_only_by_an_action(outcome: Outcome) -> None:
    """No bank payment update but a repeated AUTHORIZED applies to an authorised payment."""
    payment = a_manual_payment_in(PROCESSING, AUTHORIZED)
    before = payment.copy()
    with pytest.raises(InvalidTransition):
        payment.apply(outcome, LATER)
    assert before == payment


@pytest.mark.parametrize("capture_method", list(CaptureMethod))
def test_no_bank_update_cancels_a_payment(capture_method: CaptureMethod) -> None:
    """canceled comes only from a void or the expiry, never from a payment update."""
    payment = payment_in(ReversibleCipher(), PROCESSING, capture_method=capture_method)
    with pytest.raises(InvalidTransition, match="canceled only by a void"):
        payment.apply(CANCELED, LATER)
    assert PaymentStatus.PROCESSING == payment.status


def test_the_gateway_never_fails_an_authorised_payment() -> None:
    """fail() on an authorised payment returns False: the bank holds the funds."""
    payment = a_manual_payment_in(PROCESSING, AUTHORIZED)
    before = payment.copy()
    assert (False, before) == (payment.fail(FailureReason.RETRIES_EXHAUSTED, LATER), payment)


def test_an_automatic_payment_that_succeeded_captured_its_whole_amount() -> None:
    """amount_captured is 0 until PAID, then the payment's amount; a record stored before
    captures existed (no amount_captured) reads the same."""
    payment = a_payment_in(PROCESSING)
    before = payment.amount_captured
    payment.apply(PAID, LATER)
    stored = replace(payment, amount_captured=0)
    assert (0, 1050, 1050, 1050) == (
        before,
        payment.amount_captured,
        payment.amount_refundable,
        stored.amount_captured,
    )


@pytest.mark.parametrize("record", ["record_capture", "record_cancellation"])
@pytest.mark.parametrize("outcome", [PENDING, PROCESSING, FAILED], ids=outcome_id)
def test_only_an_authorised_payment_is_captured_or_canceled(record: str, outcome: Outcome) -> None:
    """record_capture and record_cancellation raise InvalidTransition unless authorised."""
    payment = payment_in(ReversibleCipher(), *([] if outcome == PENDING else [outcome]))
    before = payment.copy()
    with pytest.raises(InvalidTransition):
        if record == "record_capture":
            payment.record_capture(1050, LATER)
        else:
            payment.record_cancellation(CancellationReason.REQUESTED_BY_MERCHANT, LATER)
    assert before == payment


@pytest.mark.parametrize("amount", [0, 1051])
def test_a_capture_takes_from_one_to_the_authorised_amount(amount: int) -> None:
    """record_capture of nothing or of more than was authorised raises ValueError."""
    payment = a_manual_payment_in(PROCESSING, AUTHORIZED)
    before = payment.copy()
    with pytest.raises(ValueError, match="authorised amount"):
        payment.record_capture(amount, LATER)
    assert before == payment


def test_every_status_a_merchant_sees_records_one_event() -> None:
    """Acceptance, AUTHORIZED and a capture record payment.processing, .authorized and
    .succeeded in order; pending and repeats record nothing."""
    payment = pending_payment(ReversibleCipher(), capture_method="manual")
    created = list(payment.events)
    payment.record_bank_acceptance("bank-ref-1", LATER)
    payment.apply(PROCESSING, LATER)
    payment.apply(AUTHORIZED, LATER)
    payment.apply(AUTHORIZED, LATER + timedelta(seconds=1))
    payment.record_capture(600, LATER + timedelta(seconds=2))
    expected = [
        PaymentStatusChanged(payment.id, payment.merchant_id, status, at)
        for status, at in [
            ("processing", LATER),
            ("authorized", LATER),
            ("succeeded", LATER + timedelta(seconds=2)),
        ]
    ]
    assert ([], expected, []) == (created, payment.pull_events(), payment.events)


def test_a_copy_has_its_own_events() -> None:
    """Recording an event on a copy leaves the original's list as it was."""
    payment = a_pending_payment()
    twin = payment.copy()
    twin.apply(PAID, LATER)
    assert ([], ["payment.succeeded"]) == (payment.events, [e.type for e in twin.events])


# -- random lifecycles ---------------------------------------------------------------------


def _move_is_allowed(current: PaymentRequest, outcome: Outcome) -> bool:
    """The rules of SPEC §4 and §8, written independently of PaymentRequest.apply."""
    unfit = (
        PaymentStatus.SUCCEEDED if current.capture_method is MANUAL else PaymentStatus.AUTHORIZED
    )
    if outcome.status is unfit:
        return False
    if outcome.status is current.status:
        return outcome.decline_reason is current.decline_reason
    if current.status.is_final or current.status is PaymentStatus.AUTHORIZED:
        return False
    return outcome.status not in (PaymentStatus.PENDING, PaymentStatus.CANCELED)


class PaymentLifecycle(RuleBasedStateMachine):
    """Random sequences of bank outcomes, acceptances and failures on one payment of either
    capture method."""

    payment: PaymentRequest

    @initialize(capture_method=st.sampled_from(list(CaptureMethod)))
    def accept(self, capture_method: CaptureMethod) -> None:
        self.payment = pending_payment(ReversibleCipher(), capture_method=capture_method)
        self.original = self.payment.copy()
        self.tick = 0
        self.max_rank = 0
        self.first_final: tuple[PaymentStatus, DeclineReason | None] | None = None
        self.statuses_entered: list[str] = []
        self.first_capture_before: datetime | None = None

    def _at(self) -> datetime:
        self.tick += 1
        return CREATED_AT + timedelta(seconds=self.tick)

    def _note_status(self, before: PaymentStatus) -> None:
        if self.payment.status is not before:
            self.statuses_entered.append(self.payment.status)

    @rule(outcome=st.sampled_from(EVERY_OUTCOME), bank_reference=st.sampled_from([None, "r1"]))
    def apply(self, outcome: Outcome, bank_reference: str | None) -> None:
        before = self.payment.copy()
        allowed = _move_is_allowed(before, outcome)
        try:
            self.payment.apply(outcome, self._at(), bank_reference)
        except InvalidTransition:
            assert (False, before) == (allowed, self.payment)
        else:
            assert (True, outcome.status) == (allowed, self.payment.status)
        self._note_status(before.status)

    @rule(bank_reference=st.sampled_from(["r1", "r2"]))
    def record_bank_acceptance(self, bank_reference: str) -> None:
        before = self.payment.status
        self.payment.record_bank_acceptance(bank_reference, self._at())
        expected = PaymentStatus.PROCESSING if before is PaymentStatus.PENDING else before
        assert expected == self.payment.status
        self._note_status(before)

    @rule(reason=st.sampled_from(list(FailureReason)))
    def fail(self, reason: FailureReason) -> None:
        before = self.payment.status
        open_ = not before.is_final and before is not PaymentStatus.AUTHORIZED
        assert open_ == self.payment.fail(reason, self._at())
        self._note_status(before)

    @invariant()
    def each_status_entered_records_one_event_in_order(self) -> None:
        assert self.statuses_entered == [event.status for event in self.payment.events]

    @invariant()
    def capture_before_is_set_once_while_authorized(self) -> None:
        authorized = self.payment.status is PaymentStatus.AUTHORIZED
        assert authorized == (self.payment.capture_before is not None)
        if authorized:
            self.first_capture_before = self.first_capture_before or self.payment.capture_before
            assert self.first_capture_before == self.payment.capture_before

    @invariant()
    def a_payment_captured_by_the_bank_captured_all(self) -> None:
        succeeded = self.payment.status is PaymentStatus.SUCCEEDED
        assert (1050 if succeeded else 0) == self.payment.amount_captured

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


# -- random captures, voids and refunds ----------------------------------------------------

AMOUNT = 1050
VALIDITY = timedelta(seconds=60)
# Amounts a merchant might ask for: none (the default), small (most often), around the
# total, and invalid.
ACTION_AMOUNTS = st.one_of(
    st.none(),
    st.integers(1, 60),
    st.integers(1, 60),
    st.integers(AMOUNT - 1, AMOUNT + 1),
    st.integers(-1, 0),
)
END = tuple[ActionStatus, ActionFailureReason | None]


class MoneyMovements(RuleBasedStateMachine):
    """Random captures, voids, refunds, settlements, repeats and expiries on one payment,
    judged against a model that knows only the list of actions."""

    payment: PaymentRequest

    @initialize(manual=st.booleans())
    def start(self, manual: bool) -> None:
        self.manual = manual
        self.now = CREATED_AT + timedelta(seconds=2)
        method = MANUAL if manual else CaptureMethod.AUTOMATIC
        self.payment = pending_payment(ReversibleCipher(), capture_method=method)
        self.payment.apply(PROCESSING, CREATED_AT + timedelta(seconds=1))
        self.payment.apply(
            AUTHORIZED if manual else PAID, self.now, authorization_validity=VALIDITY
        )
        self.payment.pull_events()
        self.expires_at = self.now + VALIDITY
        self.actions: list[PaymentAction] = []
        self.first_end: dict[UUID, END] = {}

    # the model ------------------------------------------------------------------------

    def _of(self, kind: ActionType, *statuses: ActionStatus) -> list[PaymentAction]:
        return [a for a in self.actions if a.type is kind and a.status in statuses]

    def _model_status(self) -> PaymentStatus:
        if not self.manual or self._of(ActionType.CAPTURE, ActionStatus.SUCCEEDED):
            return PaymentStatus.SUCCEEDED
        if self._of(ActionType.VOID, ActionStatus.SUCCEEDED):
            return PaymentStatus.CANCELED
        return PaymentStatus.AUTHORIZED

    def _model_captured(self) -> int:
        if not self.manual:
            return AMOUNT
        return sum(a.money.amount for a in self._of(ActionType.CAPTURE, ActionStatus.SUCCEEDED))

    def _sum(self, kind: ActionType, *statuses: ActionStatus) -> int:
        return sum(a.money.amount for a in self._of(kind, *statuses))

    def _expected_refusal(self, kind: ActionType, amount: int | None) -> type[DomainError] | None:
        """SPEC §8's order of refusals, from the actions alone."""
        if amount is not None and amount < 1:
            return ValidationError
        needed = PaymentStatus.SUCCEEDED if kind is ActionType.REFUND else PaymentStatus.AUTHORIZED
        if self._model_status() is not needed:
            return PaymentUnexpectedState
        pending = ActionStatus.PENDING
        if self._of(ActionType.CAPTURE, pending) or self._of(ActionType.VOID, pending):
            return ActionInProgress
        if kind is ActionType.CAPTURE and self.now >= self.expires_at:
            return AuthorizationExpired
        if kind is ActionType.REFUND and len(self._of(ActionType.REFUND, *ActionStatus)) >= 50:
            return RefundLimitReached
        if kind is ActionType.CAPTURE and (amount or AMOUNT) > AMOUNT:
            return AmountTooLarge
        if kind is ActionType.REFUND:
            held = self._sum(ActionType.REFUND, ActionStatus.SUCCEEDED, ActionStatus.PENDING)
            refundable = self._model_captured() - held
            if not 1 <= (refundable if amount is None else amount) <= refundable:
                return AmountTooLarge
        return None

    def _request(self, kind: ActionType, amount: int | None, make: Callable[[], object]) -> None:
        expected = self._expected_refusal(kind, amount)
        event(f"{kind}: {expected.__name__ if expected else 'accepted'}")
        before = self.payment.copy()
        try:
            requested = make()
        except DomainError as error:
            assert (expected, before) == (type(error), self.payment)
        else:
            assert None is expected
            assert isinstance(requested, ActionRequested)
            self.actions.append(requested.action)

    def _next_id(self) -> UUID:
        return UUID(int=len(self.actions) + 1)

    # the rules ------------------------------------------------------------------------

    @rule(seconds=st.integers(0, 40))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(amount=ACTION_AMOUNTS)
    def capture(self, amount: int | None) -> None:
        action_id = self._next_id()
        self._request(
            ActionType.CAPTURE,
            amount,
            lambda: request_capture(self.payment, amount, self.now, action_id=action_id),
        )

    @rule()
    def void(self) -> None:
        action_id = self._next_id()
        self._request(
            ActionType.VOID, None, lambda: request_void(self.payment, self.now, action_id=action_id)
        )

    @precondition(lambda self: expiry_void_due(self.payment, self.now))
    @rule()
    def expiry_void(self) -> None:
        requested = request_void(
            self.payment,
            self.now,
            action_id=self._next_id(),
            reason=CancellationReason.AUTHORIZATION_EXPIRED,
        )
        assert [] == self._of(ActionType.CAPTURE, ActionStatus.PENDING)
        self.actions.append(requested.action)

    @rule(amount=ACTION_AMOUNTS, reason=st.sampled_from([None, *RefundReason]))
    def refund(self, amount: int | None, reason: RefundReason | None) -> None:
        action_id = self._next_id()
        self._request(
            ActionType.REFUND,
            amount,
            lambda: request_refund(self.payment, amount, reason, self.now, action_id=action_id),
        )

    @rule(count=st.integers(1, 15))
    def refund_burst(self, count: int) -> None:
        """Many small refunds at once, so that runs reach the refund limit."""
        for _ in range(count):
            self.refund(1, None)

    @precondition(lambda self: bool(self.actions))
    @rule(
        data=st.data(),
        succeeded=st.booleans(),
        failure=st.sampled_from(list(ActionFailureReason)),
    )
    def settle(self, data: st.DataObject, succeeded: bool, failure: ActionFailureReason) -> None:
        action = data.draw(st.sampled_from(self.actions))
        end: END = (ActionStatus.SUCCEEDED, None) if succeeded else (ActionStatus.FAILED, failure)
        before = (self.payment.copy(), action.copy())
        try:
            settlement = settle_action(self.payment, action, succeeded, self.now, failure)
        except InvalidTransition:
            assert (True, before) == (self.first_end[action.id] != end, (self.payment, action))
            return
        if action.id in self.first_end:
            assert (False, (), before) == (
                settlement.changed,
                settlement.events,
                (self.payment, action),
            )
            return
        self.first_end[action.id] = end
        moved = {ActionType.CAPTURE: "succeeded", ActionType.VOID: "canceled"}.get(action.type)
        expected = [ActionEnded(*self._ids(action), action.type, end[0], self.now)]
        if succeeded and moved:
            expected.append(PaymentStatusChanged(*self._ids(action)[1:], moved, self.now))
        assert (True, expected) == (settlement.changed, list(settlement.events))

    @staticmethod
    def _ids(action: PaymentAction) -> tuple[UUID, UUID, UUID]:
        return action.id, action.payment_id, action.merchant_id

    # the invariants -------------------------------------------------------------------

    @invariant()
    def refunds_never_exceed_the_captured_amount(self) -> None:
        held = self._sum(ActionType.REFUND, ActionStatus.SUCCEEDED, ActionStatus.PENDING)
        assert held <= self.payment.amount_captured
        assert self.payment.amount_captured - held == self.payment.amount_refundable

    @invariant()
    def the_payment_holds_exactly_the_pending_actions(self) -> None:
        pending = self._of(ActionType.CAPTURE, ActionStatus.PENDING) + self._of(
            ActionType.VOID, ActionStatus.PENDING
        )
        assert len(pending) <= 1
        assert (pending[0].id if pending else None) == self.payment.pending_action_id
        expected_pending = self._sum(ActionType.REFUND, ActionStatus.PENDING)
        assert expected_pending == self.payment.amount_refund_pending

    @invariant()
    def amount_refunded_is_the_sum_of_succeeded_refunds(self) -> None:
        assert self._sum(ActionType.REFUND, ActionStatus.SUCCEEDED) == self.payment.amount_refunded

    @invariant()
    def final_action_statuses_never_change(self) -> None:
        for action in self.actions:
            if action.id in self.first_end:
                assert self.first_end[action.id] == (action.status, action.failure_reason)
            else:
                assert ActionStatus.PENDING == action.status

    @invariant()
    def refunds_are_counted_and_capped(self) -> None:
        refunds = len(self._of(ActionType.REFUND, *ActionStatus))
        assert refunds == self.payment.refund_count <= MAX_REFUNDS

    @invariant()
    def the_payment_is_where_its_actions_put_it(self) -> None:
        assert self._model_status() == self.payment.status
        assert self._model_captured() == self.payment.amount_captured
        if self.payment.status is PaymentStatus.CANCELED:
            assert [] == self._of(ActionType.CAPTURE, ActionStatus.SUCCEEDED)
            assert 0 == self.payment.amount_captured

    @invariant()
    def events_are_recorded_action_first(self) -> None:
        for action in self.actions:
            ended = [e.status for e in action.events]
            assert ([] if action.status is ActionStatus.PENDING else [action.status]) == ended
        entered = [e.status for e in self.payment.events]
        assert entered in ([], [self.payment.status])


def test_random_money_movements_keep_every_invariant() -> None:
    """Hypothesis: refunds never exceed the capture, one capture or void pending at most,
    amount_refunded sums succeeded refunds, final actions are final, events in order."""
    run_state_machine_as_test(
        MoneyMovements,
        settings=settings(max_examples=200, stateful_step_count=50, deadline=None),
    )
