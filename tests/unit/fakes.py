"""In-memory implementations of every port in shared_kernel.application.ports, for unit tests.

Each fake is small, deterministic and records what it was asked, so a test can check both
the answer a use case gives and what it did to the outside world.
"""

from __future__ import annotations

import base64
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from shared_kernel.application.errors import (
    BankRejected,
    BankUnavailable,
    BankUnknownPayment,
    ConcurrentUpdate,
    DuplicatePayment,
    QueueUnavailable,
)
from shared_kernel.application.get_payment import GetPayment
from shared_kernel.application.idempotent_submit import IdempotentSubmit
from shared_kernel.application.ports import (
    BankAcceptance,
    BankActionReport,
    BankActionRequest,
    BankActionStatus,
    BankPaymentRequest,
    BankStatusReport,
    DeadLetter,
    IdempotencyClaim,
    IdempotencyRecord,
    ListPosition,
    PageQuery,
    PaymentPage,
    QueuedPayment,
)
from shared_kernel.application.submit_once_per_key import SubmitOncePerKey
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.domain.action import ActionType, PaymentAction
from shared_kernel.domain.card import CardSecrets, SealedCard
from shared_kernel.domain.errors import ActionNotFound, PaymentNotFound
from shared_kernel.domain.payment import PaymentRequest

if TYPE_CHECKING:
    from shared_kernel.application.ports import (
        AcquiringBank,
        BankActions,
        CardCipher,
        Clock,
        DeadLetterQueue,
        IdempotencyStore,
        IdGenerator,
        MerchantDirectory,
        PaymentQueue,
        PaymentRepository,
    )


class InMemoryPaymentRepository:
    """Payments in a dict, stored as copies, with optimistic concurrency on `version`; each
    payment's actions in a dict by id, written with it."""

    def __init__(self) -> None:
        self.items: dict[UUID, PaymentRequest] = {}
        self.stored_actions: dict[UUID, dict[UUID, PaymentAction]] = {}
        self.saves = 0
        self._interleaved: deque[Callable[[PaymentRequest], object] | None] = deque()

    def add(self, payment: PaymentRequest) -> None:
        """Store a new payment; raises DuplicatePayment if its id exists."""
        if payment.id in self.items:
            raise DuplicatePayment(str(payment.id))
        self.items[payment.id] = payment.copy()
        self.stored_actions[payment.id] = {}

    def get(self, payment_id: UUID) -> PaymentRequest:
        """A copy of the stored payment; raises PaymentNotFound."""
        try:
            return self.items[payment_id].copy()
        except KeyError:
            raise PaymentNotFound(str(payment_id)) from None

    def save(self, payment: PaymentRequest, actions: Sequence[PaymentAction] = ()) -> None:
        """Conditional write on `version` of the payment and its `actions`; bumps the
        versions on the caller's objects and the copies; ValueError for an action of
        another payment."""
        if any(action.payment_id != payment.id for action in actions):
            raise ValueError("an action is saved only with its own payment")
        self._run_interleaved_writer(payment.id)
        stored = self.items.get(payment.id)
        if stored is None:
            raise PaymentNotFound(str(payment.id))
        if stored.version != payment.version:
            raise ConcurrentUpdate(str(payment.id))
        payment.version += 1
        self.items[payment.id] = payment.copy()
        for action in actions:
            action.version += 1
            self.stored_actions.setdefault(payment.id, {})[action.id] = action.copy()
        self.saves += 1

    def get_action(self, payment_id: UUID, action_id: UUID) -> PaymentAction:
        """A copy of the stored action; raises PaymentNotFound or ActionNotFound."""
        self.get(payment_id)
        try:
            return self.stored_actions.get(payment_id, {})[action_id].copy()
        except KeyError:
            raise ActionNotFound(str(action_id)) from None

    def actions(self, payment_id: UUID) -> list[PaymentAction]:
        """Copies of the payment's stored actions, oldest first (created_at, then id)."""
        self.get(payment_id)
        found = self.stored_actions.get(payment_id, {}).values()
        return [a.copy() for a in sorted(found, key=lambda a: (a.created_at, str(a.id)))]

    def open_payments(self, due_at: datetime, limit: int) -> Iterator[PaymentRequest]:
        """The watched payments (open, or with an action pending: those with a next check)
        whose next check is not after `due_at`, earliest due first, at
        most `limit`: found first, then each read (a copy, as it is by then) just before it
        is yielded, as the DynamoDB adapter reads each after its index query; one removed
        since it was found is skipped."""
        found = sorted(
            (
                p
                for p in self.items.values()
                if p.next_check_at is not None and p.next_check_at <= due_at
            ),
            key=lambda p: (p.next_check_at, str(p.id)),
        )
        for payment_id in [p.id for p in found[:limit]]:
            if payment_id in self.items:
                yield self.items[payment_id].copy()

    def page(self, query: PageQuery) -> PaymentPage:
        """Copies of one page of the merchant's matching payments, newest first (by whole
        second, then id), next to the query's position; `has_more` if more lie beyond."""
        listed = sorted(
            (
                p
                for p in self.items.values()
                if p.merchant_id == query.merchant_id and query.filters.matches(p)
            ),
            key=lambda p: ListPosition.of(p).sort_key(),
            reverse=query.before is None,  # a `before` page is read upwards, then turned
        )
        if query.after is not None:
            after = query.after.sort_key()
            listed = [p for p in listed if ListPosition.of(p).sort_key() < after]
        if query.before is not None:
            before = query.before.sort_key()
            listed = [p for p in listed if ListPosition.of(p).sort_key() > before]
        page = [p.copy() for p in listed[: query.limit]]
        if query.before is not None:
            page.reverse()
        return PaymentPage(page, len(listed) > query.limit)

    def interleave(self, change: Callable[[PaymentRequest], object], after_saves: int = 0) -> None:
        """Let another writer apply `change` to the stored payment just before the next save
        (or, with `after_saves`, before the save that follows that many more).

        That writer wins (its version is bumped), so the save it overtook raises
        ConcurrentUpdate, as a conditional write would.
        """
        self._interleaved.extend([None] * after_saves)
        self._interleaved.append(change)

    def _run_interleaved_writer(self, payment_id: UUID) -> None:
        if not self._interleaved or payment_id not in self.items:
            return
        change = self._interleaved.popleft()
        if change is None:
            return
        stored = self.items[payment_id]
        change(stored)
        stored.version += 1


class InMemoryPaymentQueue:
    """A list of published messages and of the redelivery delays asked for; set `failing`
    to make publish raise QueueUnavailable."""

    def __init__(self, *, failing: bool = False) -> None:
        self.messages: list[QueuedPayment] = []
        self.delays: list[tuple[str, float]] = []
        self.failing = failing

    def publish(self, message: QueuedPayment) -> None:
        """Append the message, or raise QueueUnavailable while failing."""
        if self.failing:
            raise QueueUnavailable("queue is down (fake)")
        self.messages.append(message)

    def delay_retry(self, receipt_handle: str, seconds: float) -> bool:
        """Record the delay asked for the message with this receipt handle."""
        self.delays.append((receipt_handle, seconds))
        return True


BankAnswer = BankAcceptance | Exception | type[Exception]


class ScriptedBank:
    """An acquiring bank answering `submit` from a script and `status_of` from a dict.

    Answers are taken, in order, from the script of the request's card number, then from
    the per-call script; once both are empty the bank accepts. Every request is recorded.
    """

    def __init__(self) -> None:
        self.requests: list[BankPaymentRequest] = []
        self.status_queries: list[UUID] = []
        self.statuses: dict[UUID, BankStatusReport] = {}
        self.unreachable = False
        self._by_card: defaultdict[str, deque[BankAnswer]] = defaultdict(deque)
        self._by_call: deque[BankAnswer] = deque()

    def on_card(self, card_number: str, *answers: BankAnswer) -> None:
        """Script the next answers to requests for this card number."""
        self._by_card[card_number].extend(answers)

    def then(self, *answers: BankAnswer) -> None:
        """Script the next answers to requests for any card."""
        self._by_call.extend(answers)

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Record the request and answer from the script (default: accept)."""
        self.requests.append(request)
        script = self._by_card.get(request.card.number) or self._by_call
        answer: BankAnswer = (
            script.popleft() if script else BankAcceptance(f"bank-{request.payment_id}")
        )
        if isinstance(answer, BankAcceptance):
            return answer
        raise answer

    def status_of(self, payment_id: UUID) -> BankStatusReport | None:
        """The scripted status report, None if unknown; BankUnavailable while unreachable."""
        self.status_queries.append(payment_id)
        if self.unreachable:
            raise BankUnavailable("bank is unreachable (fake)")
        return self.statuses.get(payment_id)

    def charges_of(self, payment_id: UUID) -> int:
        """How many submit requests the bank received for a payment."""
        return sum(1 for r in self.requests if r.payment_id == payment_id)


@dataclass
class HeldPayment:
    """A payment as the fake bank holds it: its amount, whether it was only authorised
    (`capture: false`), and the action types the bank declines for it (the simulator's
    declining cards)."""

    amount: int
    authorised_only: bool
    declines: frozenset[ActionType] = frozenset()


@dataclass
class HeldAction:
    """An action the fake bank accepted, its status, and how often it was sent."""

    request: BankActionRequest
    status: BankActionStatus = BankActionStatus.PROCESSING
    received: int = 1

    def holds(self) -> bool:
        """Whether it counts against its payment: pending, or succeeded."""
        return self.status is not BankActionStatus.DECLINED


class InMemoryBankActions:
    """BankActions in memory, with the bank simulator's rules: an action accepted once per
    id (a repeat of the same request is accepted again and moves nothing; another request
    under the same id is rejected), BankUnknownPayment for a payment the bank does not hold,
    and the per-payment balances (BankRejected for a capture of a payment not authorised or
    above its amount, a second capture, a void of a captured payment, a refund above the
    captured amount less pending and succeeded refunds). Actions stay PROCESSING until
    `settle()`; `fail_next` scripts errors for the next sends. Every request is recorded."""

    def __init__(self) -> None:
        self.payments: dict[UUID, HeldPayment] = {}
        self.actions: dict[UUID, HeldAction] = {}
        self.requests: list[BankActionRequest] = []
        self.status_queries: list[tuple[UUID, UUID]] = []
        self._failures: deque[Exception] = deque()

    def hold(
        self,
        payment_id: UUID,
        amount: int,
        *,
        authorised_only: bool,
        declines: frozenset[ActionType] = frozenset(),
    ) -> None:
        """The bank has the payment: paid (captured), or only authorised."""
        self.payments[payment_id] = HeldPayment(amount, authorised_only, declines)

    def fail_next(self, *errors: Exception) -> None:
        """Raise these, in order, from the next `submit_action` calls (nothing accepted)."""
        self._failures.extend(errors)

    def settle(self) -> None:
        """The bank decides every pending action: DECLINED where the payment declines its
        type, else SUCCEEDED."""
        for action in self.actions.values():
            if action.status is BankActionStatus.PROCESSING:
                declines = self.payments[action.request.payment_id].declines
                declined = action.request.type in declines
                action.status = (
                    BankActionStatus.DECLINED if declined else BankActionStatus.SUCCEEDED
                )

    def submit_action(self, request: BankActionRequest) -> None:
        """Accept the action, or raise what the bank would answer."""
        self.requests.append(request)
        if self._failures:
            raise self._failures.popleft()
        payment = self.payments.get(request.payment_id)
        if payment is None:
            raise BankUnknownPayment("the bank does not know this payment (fake)")
        known = self.actions.get(request.action_id)
        if known is not None:
            known.received += 1
            if replace(known.request, correlation_id=None) != replace(request, correlation_id=None):
                raise BankRejected("the Idempotency-Key was used with another request (fake)")
            return
        refusal = self._refusal(request, payment)
        if refusal:
            raise BankRejected(f"{refusal} (fake)")
        self.actions[request.action_id] = HeldAction(request)

    def action_status_of(self, payment_id: UUID, action_id: UUID) -> BankActionReport | None:
        """The action's report; None if the bank never accepted it for this payment."""
        self.status_queries.append((payment_id, action_id))
        action = self.actions.get(action_id)
        if action is None or action.request.payment_id != payment_id:
            return None
        return BankActionReport(action_id, action.request.type, action.status)

    def _refusal(self, request: BankActionRequest, payment: HeldPayment) -> str | None:
        mine = [a for a in self.actions.values() if a.request.payment_id == request.payment_id]

        def held(type_: ActionType) -> list[BankActionRequest]:
            return [a.request for a in mine if a.request.type is type_ and a.holds()]

        amount = request.amount or 0
        if request.type is not ActionType.REFUND:
            if not payment.authorised_only or held(ActionType.VOID):
                return "payment_not_authorized"
            if held(ActionType.CAPTURE):
                return "already_captured"
            if request.type is ActionType.CAPTURE and amount > payment.amount:
                return "amount_too_large"
            return None
        captured = payment.amount
        if payment.authorised_only:
            done = [
                a.request.amount or 0
                for a in mine
                if a.request.type is ActionType.CAPTURE and a.status is BankActionStatus.SUCCEEDED
            ]
            captured = sum(done)
        if captured == 0:
            return "payment_not_captured"
        if amount > captured - sum(r.amount or 0 for r in held(ActionType.REFUND)):
            return "amount_too_large"
        return None


class CipherRefused(ValueError):
    """The fake cipher was asked to unseal a card sealed for another payment or merchant (a
    ValueError, as KmsEnvelopeCipher raises)."""


class ReversibleCipher:
    """A CardCipher stand-in: base64 of the reversed secrets bound to the payment's ids.

    Not encryption; just enough that the blob never holds the plain card number and that
    unsealing for another payment fails, as with KMS encryption context.
    """

    def __init__(self) -> None:
        self.sealed = 0
        self.unsealed = 0

    def seal(self, secrets: CardSecrets, payment_id: UUID, merchant_id: UUID) -> SealedCard:
        """Encode the secrets for this payment."""
        self.sealed += 1
        text = f"{payment_id}|{merchant_id}|{secrets.number[::-1]}|{secrets.cvv[::-1]}"
        return SealedCard(base64.b64encode(text.encode()))

    def unseal(self, sealed: SealedCard, payment_id: UUID, merchant_id: UUID) -> CardSecrets:
        """Decode secrets sealed for this payment; raises CipherRefused for any other."""
        sealed_payment, sealed_merchant, number, cvv = (
            base64.b64decode(sealed.blob).decode().split("|")
        )
        if (sealed_payment, sealed_merchant) != (str(payment_id), str(merchant_id)):
            raise CipherRefused("card data cannot be unsealed")
        self.unsealed += 1
        return CardSecrets(number[::-1], cvv[::-1])


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: datetime = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)) -> None:
        self.current = now

    def now(self) -> datetime:
        """The set time."""
        return self.current

    def set(self, now: datetime) -> None:
        """Jump to `now`."""
        self.current = now

    def advance(self, by: timedelta) -> None:
        """Move forward by `by`."""
        self.current += by


class SequentialIds:
    """Version-4-shaped UUIDs numbered 1, 2, 3, ... so tests can predict them."""

    def __init__(self) -> None:
        self.issued: list[UUID] = []

    def __call__(self) -> UUID:
        """The next id."""
        new = UUID(int=len(self.issued) + 1, version=4)
        self.issued.append(new)
        return new


@dataclass(frozen=True, slots=True)
class MerchantEntry:
    """What the directory was given for one merchant key (never a plain key), and when the
    key stops working (None: not scheduled)."""

    merchant_id: UUID
    name: str
    key_hash: str
    created_at: datetime
    revoke_after: datetime | None = None


class InMemoryMerchantDirectory:
    """Merchants indexed by the keyed hash of their API key; like the DynamoDB adapter, a
    key stops resolving once `clock()` reaches its revocation time."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.entries: list[MerchantEntry] = []
        self.clock = clock

    def add(self, merchant_id: UUID, name: str, key_hash: str, created_at: datetime) -> None:
        """Record the merchant and its key hash; ValueError if either is already registered."""
        if any(e.merchant_id == merchant_id or e.key_hash == key_hash for e in self.entries):
            raise ValueError("merchant or API key is already registered")
        self.entries.append(MerchantEntry(merchant_id, name, key_hash, created_at))

    def merchant_for(self, key_hash: str) -> UUID | None:
        """The merchant with this key hash, or None (also once its revocation time came)."""
        for entry in self.entries:
            if entry.key_hash == key_hash:
                revoked = entry.revoke_after is not None and self.clock() >= entry.revoke_after
                return None if revoked else entry.merchant_id
        return None

    def rotate_key(
        self, merchant_id: UUID, key_hash: str, created_at: datetime, revoke_old_at: datetime
    ) -> int:
        """Record the new key and schedule the earlier ones to stop at `revoke_old_at` (an
        earlier schedule stays); the number of earlier keys."""
        earlier = [e for e in self.entries if e.merchant_id == merchant_id]
        if not earlier:
            raise LookupError(f"no merchant {merchant_id}")
        self.entries = [
            replace(e, revoke_after=min(e.revoke_after or revoke_old_at, revoke_old_at))
            if e.merchant_id == merchant_id
            else e
            for e in self.entries
        ]
        self.entries.append(MerchantEntry(merchant_id, earlier[0].name, key_hash, created_at))
        return len(earlier)


if TYPE_CHECKING:
    # mypy checks here that each fake satisfies its port.
    _repository: PaymentRepository = InMemoryPaymentRepository()
    _queue: PaymentQueue = InMemoryPaymentQueue()
    _bank: AcquiringBank = ScriptedBank()
    _cipher: CardCipher = ReversibleCipher()
    _clock: Clock = FixedClock()
    _ids: IdGenerator = SequentialIds()
    _directory: MerchantDirectory = InMemoryMerchantDirectory()


class InMemoryIdempotencyStore:
    """Idempotency records in a dict, with the DynamoDB adapter's conditions applied as-is.

    `before_write` runs before every conditional write, so a test can interleave another
    request exactly between a read and a write.
    """

    def __init__(self) -> None:
        self.records: dict[str, IdempotencyRecord] = {}
        self.before_write: Callable[[], object] | None = None

    def _interleave(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook is not None:
            hook()

    def claim(self, claim: IdempotencyClaim) -> bool:
        """Create the record unless one exists that has not expired before `claimed_at`."""
        self._interleave()
        existing = self.records.get(claim.scope)
        if existing is not None and not existing.expires_at < claim.claimed_at:
            return False
        self.records[claim.scope] = IdempotencyRecord(
            claim.scope,
            claim.request_hash,
            claim.owner,
            claim.submission_id,
            claim.expires_at,
            claim.locked_until,
        )
        return True

    def get(self, scope: str) -> IdempotencyRecord | None:
        """The record, or None."""
        return self.records.get(scope)

    def take_over(self, scope: str, stale_owner: str, owner: str, locked_until: datetime) -> bool:
        """Re-own a record still held by `stale_owner`."""
        self._interleave()
        record = self.records.get(scope)
        if record is None or record.owner != stale_owner:
            return False
        self.records[scope] = replace(record, owner=owner, locked_until=locked_until)
        return True

    def release(self, scope: str, owner: str, now: datetime) -> None:
        """End the record's lock at `now` if `owner` still holds it."""
        self._interleave()
        record = self.records.get(scope)
        if record is not None and record.owner == owner:
            self.records[scope] = replace(record, locked_until=now)

    def forget(self, scope: str, owner: str) -> None:
        """Delete the record if `owner` still holds it."""
        self._interleave()
        record = self.records.get(scope)
        if record is not None and record.owner == owner:
            del self.records[scope]


@dataclass
class SubmitWiring:
    """SubmitOncePerKey on fresh fakes, as bootstrap wires it (what the submit handler takes
    from `gateway()`), counting how often the idempotency use case is built."""

    clock: FixedClock = field(default_factory=FixedClock)
    repository: InMemoryPaymentRepository = field(default_factory=InMemoryPaymentRepository)
    queue: InMemoryPaymentQueue = field(default_factory=InMemoryPaymentQueue)
    store: InMemoryIdempotencyStore = field(default_factory=InMemoryIdempotencyStore)
    built: int = 0

    def __post_init__(self) -> None:
        ids = SequentialIds()
        submit = SubmitPayment(self.repository, self.queue, ReversibleCipher(), self.clock, ids)
        idempotent = IdempotentSubmit(self.store, self.clock, ids, b"pepper")

        def build() -> IdempotentSubmit:
            self.built += 1
            return idempotent

        self.submit_once_per_key = SubmitOncePerKey(submit, GetPayment(self.repository), build)


@dataclass
class FakeDeadLetterQueue:
    """Dead letters in memory, by body (with the attributes in `attributes`, none by
    default); the payment queue refuses the bodies in `refuse`; `queue` holds the bodies
    sent back, `sent` the letters as they were sent, and every call is recorded as
    (operation, bodies)."""

    waiting: list[str]
    refuse: set[str] = field(default_factory=set)
    attributes: dict[str, Mapping[str, object]] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)
    sent: list[DeadLetter] = field(default_factory=list)
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def take(self, max_count: int) -> list[DeadLetter]:
        """The first `max_count` waiting letters, hidden from later takes."""
        taken, self.waiting = self.waiting[:max_count], self.waiting[max_count:]
        self.calls.append(("take", taken))
        return [DeadLetter(f"handle-{body}", body, self.attributes.get(body, {})) for body in taken]

    def send_back(self, letters: list[DeadLetter]) -> list[DeadLetter]:
        """The letters whose body the queue does not refuse, put on it."""
        accepted = [letter for letter in letters if letter.body not in self.refuse]
        self.queue.extend(letter.body for letter in accepted)
        self.sent.extend(accepted)
        self.calls.append(("send_back", [letter.body for letter in letters]))
        return accepted

    def delete(self, letters: list[DeadLetter]) -> None:
        """Record the delete (taken letters are already gone from `waiting`)."""
        self.calls.append(("delete", [letter.body for letter in letters]))


if TYPE_CHECKING:
    _idempotency: IdempotencyStore = InMemoryIdempotencyStore()
    _dead_letters: DeadLetterQueue = FakeDeadLetterQueue([])
    _bank_actions: BankActions = InMemoryBankActions()


@dataclass(frozen=True)
class RecordedMetric:
    """One count or timing a use case recorded: name, value, dimensions."""

    name: str
    value: float
    dimensions: tuple[tuple[str, str], ...] = ()


class RecordingMetrics:
    """The Metrics port in memory: every count and timing, in order."""

    def __init__(self) -> None:
        self.recorded: list[RecordedMetric] = []

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        """Record a count."""
        self.recorded.append(RecordedMetric(name, value, tuple(sorted(dimensions.items()))))

    def timing_ms(self, name: str, ms: float, **dimensions: str) -> None:
        """Record a timing."""
        self.recorded.append(RecordedMetric(name, ms, tuple(sorted(dimensions.items()))))

    def counts(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Total value by (name, dimensions)."""
        totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for metric in self.recorded:
            key = (metric.name, metric.dimensions)
            totals[key] = totals.get(key, 0) + metric.value
        return totals
