"""In-memory records of what the bank received and did, for its own answers and for tests.

No card number or CVV is kept: only the last four digits and a keyed fingerprint of the
request body (to tell a true repeat from a reused key), because even a simulator should not
become a place where card data lingers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from banksim.outcomes import BankStatus


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
    final_status: BankStatus | None = None
    accepted_at: float | None = None
    # Wall-clock time at which the outcome is decided (when the final callback is due).
    final_at: float | None = None
    callbacks_dropped: bool = False
    callbacks_sent: int = 0
    callbacks_failed: int = 0

    @property
    def accepted(self) -> bool:
        """True once the bank has accepted (and charged) the payment."""
        return self.charges > 0

    def status_at(self, now: float) -> BankStatus | None:
        """The bank's own view: None before acceptance, PROCESSING until decided, then final."""
        if not self.accepted or self.final_status is None or self.final_at is None:
            return None
        return self.final_status if now >= self.final_at else BankStatus.PROCESSING

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
        }


class Store:
    """The records plus request counters, guarded by one re-entrant lock.

    Callers that need several steps to be atomic (the idempotency check and the charge) hold
    ``store.lock`` around them; every method also takes it, so single calls are safe alone.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._records: dict[str, PaymentRecord] = {}
        self._invalid_posts = 0
        self._posts = 0
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
            self._posts = 0
            self._invalid_posts = 0
            self._epoch += 1

    def count_post(self, *, valid: bool) -> None:
        """Count one ``POST /payments`` received; ``valid`` is False when it was rejected."""
        with self.lock:
            self._posts += 1
            if not valid:
                self._invalid_posts += 1

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
    ) -> None:
        """Count one callback delivered (any HTTP answer) or given up after its retries."""
        with self.lock:
            record = self._records.get(payment_request_id)
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
            return {
                "posts": self._posts,
                "invalid_posts": self._invalid_posts,
                "payments": len(records),
                "accepted": sum(1 for r in records if r.accepted),
                "charges": sum(r.charges for r in records),
                "double_charged": sum(1 for r in records if r.charges > 1),
                "callbacks_sent": sum(r.callbacks_sent for r in records),
                "callbacks_failed": sum(r.callbacks_failed for r in records),
            }
