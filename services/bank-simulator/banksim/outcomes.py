"""The test-card table (SPEC §5, §8) and the callback timeline it gives each accepted payment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BankStatus(StrEnum):
    """Statuses the bank reports, in requests' answers and in callbacks (SPEC §4)."""

    PROCESSING = "PROCESSING"
    PAID = "PAID"
    # A `capture: false` payment the bank would have paid: funds held, to capture or void.
    AUTHORIZED = "AUTHORIZED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    FRAUD_DETECTED = "FRAUD_DETECTED"
    DECLINED = "DECLINED"


CARD_PAID = "4242424242424242"
CARD_INSUFFICIENT_FUNDS = "4000000000009995"
CARD_FRAUD = "4100000000000019"
CARD_DECLINED = "4000000000000002"
CARD_UNAVAILABLE_FIRST = "4000000000000119"
CARD_PROCESSING_THEN_PAID = "4000000000000101"
CARD_CAPTURE_DECLINED = "4000000000000341"
CARD_REFUND_DECLINED = "4000000000005126"


@dataclass(frozen=True)
class CardBehaviour:
    """What the bank does with a payment made with one card number."""

    # The outcome of a payment sent with `capture: true` (the default).
    paid_status: BankStatus
    # The first POST for each payment answers 503 before charging; retries are accepted.
    unavailable_first: bool = False
    # Send a PROCESSING callback before the final one (a bank that reports progress).
    processing_callback: bool = False
    # The payment is paid (or authorised) as usual, but a capture of it is DECLINED.
    declines_capture: bool = False
    # The payment is paid as usual, but a refund of it is DECLINED.
    declines_refund: bool = False

    def final_status(self, *, capture: bool) -> BankStatus:
        """The payment's outcome: a card that pays is only AUTHORIZED without capture."""
        if self.paid_status is BankStatus.PAID and not capture:
            return BankStatus.AUTHORIZED
        return self.paid_status


_DEFAULT = CardBehaviour(BankStatus.PAID)

CARD_TABLE: dict[str, CardBehaviour] = {
    CARD_PAID: _DEFAULT,
    CARD_INSUFFICIENT_FUNDS: CardBehaviour(BankStatus.INSUFFICIENT_FUNDS),
    CARD_FRAUD: CardBehaviour(BankStatus.FRAUD_DETECTED),
    CARD_DECLINED: CardBehaviour(BankStatus.DECLINED),
    CARD_UNAVAILABLE_FIRST: CardBehaviour(BankStatus.PAID, unavailable_first=True),
    CARD_PROCESSING_THEN_PAID: CardBehaviour(BankStatus.PAID, processing_callback=True),
    CARD_CAPTURE_DECLINED: CardBehaviour(BankStatus.PAID, declines_capture=True),
    CARD_REFUND_DECLINED: CardBehaviour(BankStatus.PAID, declines_refund=True),
}


def behaviour_for(card_number: str) -> CardBehaviour:
    """The behaviour of ``card_number``; any card not in the table is simply paid."""
    return CARD_TABLE.get(card_number, _DEFAULT)


@dataclass(frozen=True)
class TimelineStep:
    """One callback to send: ``status`` after ``delay_steps`` callback delays from acceptance."""

    status: BankStatus
    delay_steps: int


def callback_timeline(
    behaviour: CardBehaviour,
    *,
    out_of_order: bool,
    capture: bool = True,
) -> list[TimelineStep]:
    """The callbacks an accepted payment gets, in the order they are sent.

    In order, a card with ``processing_callback`` gets PROCESSING then its final status; every
    other card gets its final status alone. Out of order, every payment gets its final status
    first and a stale PROCESSING one delay later, which is the case a gateway must survive
    (a late PROCESSING must not move a finished payment backwards).
    """
    final = behaviour.final_status(capture=capture)
    if out_of_order:
        return [TimelineStep(final, 1), TimelineStep(BankStatus.PROCESSING, 2)]
    if behaviour.processing_callback:
        return [TimelineStep(BankStatus.PROCESSING, 1), TimelineStep(final, 2)]
    return [TimelineStep(final, 1)]


def final_step(timeline: list[TimelineStep]) -> int:
    """How many callback delays after acceptance the bank decides the final outcome.

    The bank's own status (``GET /payments/{id}``) turns final when the final callback is due,
    whether or not that callback is actually delivered, so a gateway that lost the callback
    can still learn the outcome by asking.
    """
    finals = [step for step in timeline if step.status != BankStatus.PROCESSING]
    return finals[0].delay_steps
