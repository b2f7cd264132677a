"""BankActions' contract (SPEC §8), against InMemoryBankActions and against HttpAcquiringBank
talking to the real bank simulator (a subprocess on a free port, as the simulator tests
start it).

Each implementation comes with the means to set a test up the same way: a payment the bank
captured or only authorised (by the simulator's cards: plain, refunds declined, captures
declined), a wait until the bank has decided an action, and an outage of the next send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.bank.client import HttpAcquiringBank
from shared_kernel.application.errors import BankRejected, BankUnavailable, BankUnknownPayment
from shared_kernel.application.ports import (
    BankActionReport,
    BankActionRequest,
    BankActions,
    BankActionStatus,
    BankPaymentRequest,
)
from shared_kernel.domain.action import ActionType
from shared_kernel.domain.card import CardSecrets, Expiry
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import PaymentStatus
from tests.simulator.test_bank_simulator import (
    API_KEY,
    Simulator,
    free_port,
    start_simulator,
    stop_simulator,
    wait_for,
)
from tests.unit.fakes import InMemoryBankActions

from .conftest import BOTH, FAKE

AMOUNT = 1000
MERCHANT_ID = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")
# The payment kinds of the tests, by the simulator's card for each.
PLAIN = "4242424242424242"
DECLINES_REFUNDS = "4000000000005126"
DECLINES_CAPTURES = "4000000000000341"
DECLINED_TYPES = {
    PLAIN: frozenset[ActionType](),
    DECLINES_REFUNDS: frozenset({ActionType.REFUND}),
    DECLINES_CAPTURES: frozenset({ActionType.CAPTURE}),
}


@dataclass
class BankUnderTest:
    """A BankActions and how to set its bank up."""

    actions: BankActions
    # A payment the bank holds, made with this card: captured (True) or only authorised.
    payment: Callable[[str, bool], UUID]
    # Wait until the bank has decided the action (of this payment).
    settle: Callable[[UUID, UUID], None]
    # The bank is unavailable to the next action send.
    outage: Callable[[], None]


def fake_bank() -> BankUnderTest:
    """InMemoryBankActions, settled on demand."""
    fake = InMemoryBankActions()

    def payment(card: str, captured: bool) -> UUID:
        payment_id = uuid4()
        fake.hold(payment_id, AMOUNT, authorised_only=not captured, declines=DECLINED_TYPES[card])
        return payment_id

    return BankUnderTest(
        fake,
        payment,
        lambda _payment_id, _action_id: fake.settle(),
        lambda: fake.fail_next(BankUnavailable("the bank is down (fake)")),
    )


def http_bank(sim: Simulator) -> BankUnderTest:
    """HttpAcquiringBank on the simulator; payments made through its payment API."""
    client = HttpAcquiringBank(sim.base_url, lambda: API_KEY, 0.5, 2.0)

    def payment(card: str, captured: bool) -> UUID:
        payment_id = uuid4()
        request = BankPaymentRequest(
            payment_id,
            MERCHANT_ID,
            CardSecrets(card, "123"),
            Expiry(12, 2030),
            Money(AMOUNT, "GBP"),
            capture=captured,
        )
        client.submit(request)
        wanted = PaymentStatus.SUCCEEDED if captured else PaymentStatus.AUTHORIZED

        def decided() -> bool:
            report = client.status_of(payment_id)
            return report is not None and report.outcome.status is wanted

        assert wait_for(decided)
        return payment_id

    def settle(payment_id: UUID, action_id: UUID) -> None:
        def decided() -> bool:
            report = client.action_status_of(payment_id, action_id)
            return report is not None and report.status is not BankActionStatus.PROCESSING

        assert wait_for(decided)

    def outage() -> None:
        sim.set_faults(error_rate=1)

    return BankUnderTest(client, payment, settle, outage)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The bank simulator of this module; nobody receives its callbacks (one attempt each)."""
    sim = start_simulator(
        Path(tmp_path_factory.mktemp("bank-actions-contract")),
        f"http://127.0.0.1:{free_port()}/bank/payment-updates",
        BANK_CALLBACK_MAX_ATTEMPTS="1",
    )
    yield sim
    stop_simulator(sim)


@pytest.fixture(params=BOTH)
def bank(request: pytest.FixtureRequest) -> BankUnderTest:
    """The fake, or the HTTP adapter on the (reset) simulator."""
    if request.param == FAKE:
        return fake_bank()
    sim: Simulator = request.getfixturevalue("simulator")
    assert 200 == sim.client.post("/_sim/reset").status_code
    return http_bank(sim)


def capture(
    payment_id: UUID, amount: int = AMOUNT, action_id: UUID | None = None
) -> BankActionRequest:
    """A capture of the payment."""
    return BankActionRequest(
        payment_id, MERCHANT_ID, action_id or uuid4(), ActionType.CAPTURE, amount=amount
    )


def void(payment_id: UUID) -> BankActionRequest:
    """A void of the payment."""
    return BankActionRequest(payment_id, MERCHANT_ID, uuid4(), ActionType.VOID)


def refund(payment_id: UUID, amount: int, action_id: UUID | None = None) -> BankActionRequest:
    """A refund of the payment."""
    return BankActionRequest(
        payment_id, MERCHANT_ID, action_id or uuid4(), ActionType.REFUND, amount=amount
    )


def sent_and_settled(bank: BankUnderTest, request: BankActionRequest) -> BankActionReport | None:
    """Send the action, wait until the bank decided it, and read its report."""
    bank.actions.submit_action(request)
    bank.settle(request.payment_id, request.action_id)
    return bank.actions.action_status_of(request.payment_id, request.action_id)


def test_an_accepted_capture_is_reported_under_its_id_until_it_succeeds(
    bank: BankUnderTest,
) -> None:
    """A capture of an authorisation is accepted; its report names it, PROCESSING or
    already decided, and once decided it is SUCCEEDED."""
    payment_id = bank.payment(PLAIN, False)
    request = capture(payment_id, 600)

    assert None is bank.actions.submit_action(request)
    first = bank.actions.action_status_of(payment_id, request.action_id)

    assert first is not None
    assert (request.action_id, ActionType.CAPTURE) == (first.action_id, first.type)
    assert first.status in {BankActionStatus.PROCESSING, BankActionStatus.SUCCEEDED}
    bank.settle(payment_id, request.action_id)
    assert BankActionReport(
        request.action_id, ActionType.CAPTURE, BankActionStatus.SUCCEEDED
    ) == bank.actions.action_status_of(payment_id, request.action_id)


def test_an_action_the_bank_never_received_has_no_status(bank: BankUnderTest) -> None:
    """A known payment, an action id never sent: None."""
    assert None is bank.actions.action_status_of(bank.payment(PLAIN, True), uuid4())


def test_an_action_on_a_payment_the_bank_does_not_know_raises_unknown_payment(
    bank: BankUnderTest,
) -> None:
    """An action on a payment the bank never received: BankUnknownPayment."""
    with pytest.raises(BankUnknownPayment):
        bank.actions.submit_action(refund(uuid4(), 100))


def test_a_repeat_is_accepted_and_moves_the_money_once(bank: BankUnderTest) -> None:
    """The same refund sent twice is accepted twice and counts once: 600 (twice) and 400
    fit in 1000, and then nothing is left (a refund of 1 is rejected)."""
    payment_id = bank.payment(PLAIN, True)
    first = refund(payment_id, 600)

    bank.actions.submit_action(first)
    bank.actions.submit_action(first)
    bank.actions.submit_action(refund(payment_id, 400))

    with pytest.raises(BankRejected):
        bank.actions.submit_action(refund(payment_id, 1))


def test_an_action_id_reused_for_another_request_is_rejected(bank: BankUnderTest) -> None:
    """The same action id with another amount: BankRejected, the first kept."""
    payment_id = bank.payment(PLAIN, True)
    action_id = uuid4()
    bank.actions.submit_action(refund(payment_id, 100, action_id))

    with pytest.raises(BankRejected):
        bank.actions.submit_action(refund(payment_id, 200, action_id))


@pytest.mark.parametrize(
    ("captured", "prepare", "refused"),
    [
        pytest.param(False, None, lambda p: capture(p, AMOUNT + 1), id="capture-above-amount"),
        pytest.param(True, None, capture, id="capture-of-a-captured-payment"),
        pytest.param(False, capture, capture, id="second-capture"),
        pytest.param(False, capture, void, id="void-of-a-captured-payment"),
        pytest.param(False, void, capture, id="capture-after-void"),
        pytest.param(False, None, lambda p: refund(p, 100), id="refund-before-capture"),
        pytest.param(True, lambda p: refund(p, 700), lambda p: refund(p, 301), id="refund-above"),
    ],
)
def test_the_balances_reject_what_the_gateway_should_never_send(
    bank: BankUnderTest,
    captured: bool,
    prepare: Callable[[UUID], BankActionRequest] | None,
    refused: Callable[[UUID], BankActionRequest],
) -> None:
    """Per-payment balances: each of these is BankRejected (and not an unknown payment)."""
    payment_id = bank.payment(PLAIN, captured)
    if prepare is not None:
        sent_and_settled(bank, prepare(payment_id))

    with pytest.raises(BankRejected) as raised:
        bank.actions.submit_action(refused(payment_id))

    assert not isinstance(raised.value, BankUnknownPayment)


def test_a_declined_refund_gives_its_amount_back(bank: BankUnderTest) -> None:
    """A refund the bank declines ends DECLINED, and its amount can be refunded again."""
    payment_id = bank.payment(DECLINES_REFUNDS, True)
    declined = refund(payment_id, AMOUNT)

    report = sent_and_settled(bank, declined)

    assert BankActionReport(declined.action_id, ActionType.REFUND, BankActionStatus.DECLINED) == (
        report
    )
    assert None is bank.actions.submit_action(refund(payment_id, AMOUNT))


def test_a_declined_capture_leaves_the_authorisation_to_void(bank: BankUnderTest) -> None:
    """A capture the bank declines ends DECLINED; the authorisation can still be voided."""
    payment_id = bank.payment(DECLINES_CAPTURES, False)

    declined = sent_and_settled(bank, capture(payment_id))
    voided = sent_and_settled(bank, void(payment_id))

    assert declined is not None and voided is not None
    assert (BankActionStatus.DECLINED, BankActionStatus.SUCCEEDED) == (
        declined.status,
        voided.status,
    )


def test_an_unavailable_bank_accepts_nothing(bank: BankUnderTest) -> None:
    """An outage: BankUnavailable, and the bank has no such action afterwards."""
    payment_id = bank.payment(PLAIN, True)
    request = refund(payment_id, 100)
    bank.outage()

    with pytest.raises(BankUnavailable):
        bank.actions.submit_action(request)

    assert None is bank.actions.action_status_of(payment_id, request.action_id)
