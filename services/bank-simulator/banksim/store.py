"""In-memory records of what the bank received and did, for its own answers and for tests:
each payment, and each capture, void or refund of one (SPEC §8).

No card number or CVV is kept: only the last four digits and a keyed fingerprint of the
request body (to tell a true repeat from a reused key), because even a simulator should not
become a place where card data lingers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from banksim.outcomes import BankStatus

PROCESSING = "PROCESSING"
SUCCEEDED = "SUCCEEDED"
DECLINED = "DECLINED"


@dataclass
class ActionRecord:
    """One capture, void or refund the bank accepted, by its action id (the Idempotency-Key).

    ``received`` counts every valid request with this key (repeats, and ones answered 503 or
    422 once the action exists); ``applied`` the times the bank executed it: 1, or more when
    idempotency was off and a repeat moved the money again.
    """

    action_id: str
    payment_request_id: str
    type: str
    # A void's is the authorised amount it releases.
    amount: int
    fingerprint: str
    final_status: str
    accepted_at: float
    # Wall-clock time at which the outcome is decided (when its callback is due).
    final_at: float
    received: int = 1
    applied: int = 1
    callbacks_dropped: bool = False
    callbacks_sent: int = 0
    callbacks_failed: int = 0

    def status_at(self, now: float) -> str:
        """PROCESSING until decided, then SUCCEEDED or DECLINED."""
        return self.final_status if now >= self.final_at else PROCESSING

    def holds(self, now: float) -> bool:
        """True while the action counts against the payment: pending, or succeeded."""
        return self.status_at(now) != DECLINED

    def report(self, now: float) -> dict[str, Any]:
        """The bank's answer to ``GET /payments/{id}/actions/{action_id}``."""
        return {"action_id": self.action_id, "type": self.type, "status": self.status_at(now)}

    def to_json(self, now: float) -> dict[str, Any]:
        """The record as ``GET /_sim/actions/{action_id}`` shows it."""
        return {
            **self.report(now),
            "payment_request_id": self.payment_request_id,
            "amount": self.amount,
            "received": self.received,
            "applied": self.applied,
            "callbacks_sent": self.callbacks_sent,
            "callbacks_failed": self.callbacks_failed,
            "callbacks_dropped": self.callbacks_dropped,
        }


@dataclass
class PaymentRecord:
    """Everything known about one payment request id."""

    payment_request_id: str
    posts: int = 0
    charges: int = 0
    # The 503-first card answers 503 once per payment; remember that it has.
    unavailable_answered: bool = False
    merchant_id: str | None = None
    fingerprint: str | None = None
    bank_reference: str | None = None
    card_last4: str | None = None
    amount: int | None = None
    currency: str | None = None
    # False for a `capture: false` payment (authorised only).
    capture: bool = True
    declines_capture: bool = False
    declines_refund: bool = False
    final_status: BankStatus | None = None
    accepted_at: float | None = None
    # Wall-clock time at which the outcome is decided (when the final callback is due).
    final_at: float | None = None
    callbacks_dropped: bool = False
    callbacks_sent: int = 0
    callbacks_failed: int = 0
    # Its captures, voids and refunds, oldest first.
    actions: list[ActionRecord] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """True once the bank has accepted (and charged) the payment."""
        return self.charges > 0

    def status_at(self, now: float) -> BankStatus | None:
        """The bank's own view: None before acceptance, PROCESSING until decided, then final."""
        if not self.accepted or self.final_status is None or self.final_at is None:
            return None
        return self.final_status if now >= self.final_at else BankStatus.PROCESSING

    def captured(self, now: float) -> int:
        """What the bank has captured: the amount once an automatic payment is PAID, the
        succeeded capture's amount for an authorised one, else 0."""
        if self.status_at(now) is BankStatus.PAID and self.amount is not None:
            return self.amount
        done = self._of_type("capture", now, SUCCEEDED)
        return sum(action.amount for action in done)

    def refunded(self, now: float) -> int:
        """The sum of the succeeded refunds (each counted once)."""
        return sum(action.amount for action in self._of_type("refund", now, SUCCEEDED))

    def held(self, action_type: str, now: float) -> list[ActionRecord]:
        """The actions of ``action_type`` that count against the payment (pending or done)."""
        return [a for a in self.actions if a.type == action_type and a.holds(now)]

    def _of_type(self, action_type: str, now: float, status: str) -> list[ActionRecord]:
        return [a for a in self.actions if a.type == action_type and a.status_at(now) == status]

    def to_json(self, now: float) -> dict[str, Any]:
        """The record as ``GET /_sim/payments/{id}`` shows it."""
        status = self.status_at(now)
        return {
            "payment_request_id": self.payment_request_id,
            "merchant_id": self.merchant_id,
            "posts": self.posts,
            "charges": self.charges,
            "status": status.value if status else None,
            "bank_reference": self.bank_reference,
            "card_last4": self.card_last4,
            "amount": self.amount,
            "currency": self.currency,
            "callbacks_sent": self.callbacks_sent,
            "callbacks_failed": self.callbacks_failed,
            "callbacks_dropped": self.callbacks_dropped,
            "capture": self.capture,
            "amount_captured": self.captured(now),
            "amount_refunded": self.refunded(now),
            "actions": [action.to_json(now) for action in self.actions],
        }


class Store:
    """The records plus request counters, guarded by one re-entrant lock.

    Callers that need several steps to be atomic (the idempotency check and the charge) hold
    ``store.lock`` around them; every method also takes it, so single calls are safe alone.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._records: dict[str, PaymentRecord] = {}
        self._actions: dict[str, ActionRecord] = {}
        self._invalid_posts = 0
        self._posts = 0
        self._action_posts = 0
        self._invalid_action_posts = 0
        # Action requests refused by the balances (422): what the gateway should never send.
        self._action_refusals = 0
        # Bumped by reset() so callbacks scheduled before a reset are not counted after it.
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """The current generation of records."""
        with self.lock:
            return self._epoch

    def reset(self) -> None:
        """Forget every record and counter."""
        with self.lock:
            self._records.clear()
            self._actions.clear()
            self._posts = 0
            self._invalid_posts = 0
            self._action_posts = 0
            self._invalid_action_posts = 0
            self._action_refusals = 0
            self._epoch += 1

    def count_post(self, *, valid: bool) -> None:
        """Count one ``POST /payments`` received; ``valid`` is False when it was rejected."""
        with self.lock:
            self._posts += 1
            if not valid:
                self._invalid_posts += 1

    def count_action_post(self, *, valid: bool, refused: bool = False) -> None:
        """Count one capture, void or refund request; ``valid`` is False when it was rejected
        (400/401), ``refused`` True when the balances refused it (422)."""
        with self.lock:
            self._action_posts += 1
            self._invalid_action_posts += 0 if valid else 1
            self._action_refusals += 1 if refused else 0

    def action(self, action_id: str) -> ActionRecord | None:
        """The action with this id, or None; mutate it only while holding ``lock``."""
        with self.lock:
            return self._actions.get(action_id)

    def add_action(self, record: PaymentRecord, action: ActionRecord) -> None:
        """Keep a newly accepted action of ``record``."""
        with self.lock:
            self._actions[action.action_id] = action
            record.actions.append(action)

    def action_snapshot(self, action_id: str) -> dict[str, Any] | None:
        """The JSON view of one action, or None when the id was never accepted."""
        with self.lock:
            action = self._actions.get(action_id)
            return action.to_json(time.time()) if action else None

    def get(self, payment_request_id: str) -> PaymentRecord | None:
        """The record, or None; mutate it only while holding ``lock``."""
        with self.lock:
            return self._records.get(payment_request_id)

    def get_or_create(self, payment_request_id: str) -> PaymentRecord:
        """The record for this id, created empty on first sight."""
        with self.lock:
            record = self._records.get(payment_request_id)
            if record is None:
                record = PaymentRecord(payment_request_id)
                self._records[payment_request_id] = record
            return record

    def note_callback(
        self,
        payment_request_id: str,
        epoch: int,
        *,
        delivered: bool,
        action_id: str | None = None,
    ) -> None:
        """Count one callback (of the payment, or of its action ``action_id``) delivered (any
        HTTP answer) or given up after its retries."""
        with self.lock:
            record: PaymentRecord | ActionRecord | None = (
                self._records.get(payment_request_id)
                if action_id is None
                else self._actions.get(action_id)
            )
            if epoch != self._epoch or record is None:
                return
            if delivered:
                record.callbacks_sent += 1
            else:
                record.callbacks_failed += 1

    def snapshot(self, payment_request_id: str) -> dict[str, Any] | None:
        """The JSON view of one record, or None when the id was never received."""
        with self.lock:
            record = self._records.get(payment_request_id)
            return record.to_json(time.time()) if record else None

    def all_snapshots(self) -> list[dict[str, Any]]:
        """The JSON view of every record, oldest first."""
        now = time.time()
        with self.lock:
            return [record.to_json(now) for record in self._records.values()]

    def stats(self) -> dict[str, int]:
        """Totals across every record (``GET /_sim/stats``)."""
        with self.lock:
            records = list(self._records.values())
            actions = list(self._actions.values())
            return {
                "action_posts": self._action_posts,
                "invalid_action_posts": self._invalid_action_posts,
                "action_refusals": self._action_refusals,
                "actions": len(actions),
                "actions_applied": sum(a.applied for a in actions),
                "applied_twice": sum(1 for a in actions if a.applied > 1),
                "posts": self._posts,
                "invalid_posts": self._invalid_posts,
                "payments": len(records),
                "accepted": sum(1 for r in records if r.accepted),
                "charges": sum(r.charges for r in records),
                "double_charged": sum(1 for r in records if r.charges > 1),
                "callbacks_sent": sum(r.callbacks_sent for r in records),
                "callbacks_failed": sum(r.callbacks_failed for r in records),
            }
