"""Every ``POST /payments`` and every capture, void and refund request the bank received, in
order, with what it answered and when.

The bank's records say what it decided; this log says what it was asked, so a test can judge
the gateway without trusting the bank's idempotency: how many POSTs a payment or an action
cost, which came after a ``202`` the client had already been given, which were charged or
applied, which the balances refused (422). It is read with ``GET /_sim/requests`` (all
kinds, or ``?kind=`` one) and holds no card data (ids, key, answer and times only).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from banksim.validation import is_uuid

# What the bank did with a POST (the ``outcome`` of an entry).
CHARGED = "charged"  # 202: a new charge (the timeout fault may have held the answer)
REPEAT = "repeat"  # 202: the earlier charge's answer again, nothing charged
UNAVAILABLE = "unavailable"  # 503: nothing charged
REFUSED = "refused"  # 400 / 401 / 404 / 422: nothing charged or applied
APPLIED = "applied"  # 202 to an action: executed (again, for a repeat with idempotency off)

# What was asked (the ``kind`` of an entry): a payment, or one of its actions.
KINDS = ("payment", "capture", "void", "refund")

# Enough for a soak (thousands of payments, a few POSTs each); past it the oldest entries go
# and the answer's `dropped` says how many, so a reader can tell the log is incomplete.
MAX_ENTRIES = 200_000


@dataclass
class PostEntry:
    """One POST: filled in on receipt, on the decision and when the answer is written."""

    seq: int
    idempotency_key: str | None
    received_at: float
    received_monotonic: float
    kind: str = "payment"
    payment_request_id: str | None = None
    action_id: str | None = None
    error_code: str | None = None
    merchant_id: str | None = None
    status: int | None = None
    outcome: str | None = None
    bank_reference: str | None = None
    held_ms: int = 0
    answered_at: float | None = None
    answered_monotonic: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as ``GET /_sim/requests`` shows it."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payment_request_id": self.payment_request_id,
            "action_id": self.action_id,
            "merchant_id": self.merchant_id,
            "idempotency_key": self.idempotency_key,
            "status": self.status,
            "outcome": self.outcome,
            "error_code": self.error_code,
            "bank_reference": self.bank_reference,
            "held_ms": self.held_ms,
            "received_at": self.received_at,
            "received_monotonic": self.received_monotonic,
            "answered_at": self.answered_at,
            "answered_monotonic": self.answered_monotonic,
        }


def _uuid_or_none(body: Any, name: str) -> str | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) and is_uuid(value) else None


class RequestLog:
    """The POSTs of the current generation (since start or the last reset), oldest first."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[PostEntry] = deque(maxlen=max_entries)
        self._last_seq = 0
        self._dropped = 0

    def receive(self, idempotency_key: str | None, kind: str = "payment") -> PostEntry:
        """Log a POST as it arrives (before authentication, latency or validation)."""
        with self._lock:
            self._last_seq += 1
            if len(self._entries) == self._entries.maxlen:
                self._dropped += 1
            entry = PostEntry(
                seq=self._last_seq,
                idempotency_key=idempotency_key,
                kind=kind,
                received_at=time.time(),
                received_monotonic=time.monotonic(),
            )
            self._entries.append(entry)
            return entry

    def decided(
        self,
        entry: PostEntry,
        body: Any,
        *,
        status: int,
        outcome: str | None,
        hold_s: float,
        answer_body: dict[str, Any],
        payment_request_id: str | None = None,
        merchant_id: str | None = None,
    ) -> None:
        """Record the bank's answer to the POST (ids only when valid UUIDs: from the body, or
        for an action the payment's id from the path and its merchant from the bank)."""
        reference = answer_body.get("bank_reference") if status == 202 else None
        error = answer_body.get("error") if status >= 400 else None
        with self._lock:
            if entry.kind == "payment":
                entry.payment_request_id = _uuid_or_none(body, "payment_request_id")
                entry.merchant_id = _uuid_or_none(body, "merchant_id")
            else:
                path_id = {"payment_request_id": payment_request_id}
                entry.payment_request_id = _uuid_or_none(path_id, "payment_request_id")
                entry.merchant_id = merchant_id
                entry.action_id = _uuid_or_none(body, "action_id")
            entry.error_code = error.get("code") if isinstance(error, dict) else None
            entry.status = status
            entry.outcome = outcome or REFUSED
            entry.bank_reference = reference if isinstance(reference, str) else None
            entry.held_ms = round(hold_s * 1000)

    def answered(self, entry: PostEntry) -> None:
        """Record when the answer was written (after any hold)."""
        with self._lock:
            entry.answered_at = time.time()
            entry.answered_monotonic = time.monotonic()

    def read(
        self, after: int = 0, limit: int | None = None, kind: str | None = None
    ) -> dict[str, Any]:
        """Entries with ``seq > after`` (of ``kind`` only, if given; at most ``limit``), the
        last seq, and how many the cap dropped."""
        wanted: list[dict[str, Any]] = []
        with self._lock:
            for entry in self._entries:
                if limit is not None and len(wanted) >= limit:
                    break
                if entry.seq > after and kind in (None, entry.kind):
                    wanted.append(entry.to_json())
            last_seq, dropped = self._last_seq, self._dropped
        return {
            "last_seq": last_seq,
            "dropped": dropped,
            "requests": wanted,
        }

    def reset(self) -> None:
        """Forget every entry; numbering starts again at 1."""
        with self._lock:
            self._entries.clear()
            self._last_seq = 0
            self._dropped = 0
