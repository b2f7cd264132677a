"""The bank's behaviour behind its payment calls: accept (and charge, or only authorise, at most
once), and report. Captures, voids and refunds are in ``money_movements``.

The HTTP layer parses and authenticates; this module decides. Each decision for a payment is
taken under the store's lock, so concurrent retries with the same Idempotency-Key can never
charge twice. In the ``idempotency: off`` mode (faults.Mode) every accepted POST is a new
charge instead, as at a bank whose key store expired: the request log then shows what the
gateway's resends would have cost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from banksim.callbacks import CallbackDispatcher, CallbackJob
from banksim.errors import error_body
from banksim.faults import FaultInjector
from banksim.outcomes import (
    BankStatus,
    TimelineStep,
    behaviour_for,
    callback_timeline,
    final_step,
)
from banksim.request_log import CHARGED, REPEAT, UNAVAILABLE
from banksim.store import PaymentRecord, Store
from banksim.validation import is_uuid, validate_payment_request

log = logging.getLogger("bank_simulator.bank")

NOT_RECEIVED = "the bank never received this payment"


@dataclass(frozen=True)
class Answer:
    """What to answer: HTTP status and JSON body, after holding the response ``hold_s``;
    for a POST, what the bank did (request_log's CHARGED, APPLIED, REPEAT, UNAVAILABLE; None
    for a refusal)."""

    status: int
    body: dict[str, Any]
    hold_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str | None = None


def rfc3339(epoch_seconds: float) -> str:
    """UTC timestamp with seconds precision and a ``Z`` suffix, as the contract wants."""
    moment = datetime.fromtimestamp(int(epoch_seconds), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unavailable(message: str) -> Answer:
    return Answer(503, error_body("service_unavailable", message), outcome=UNAVAILABLE)


class Desk:
    """What each of the bank's desks (payments, money movements) works with: the records,
    the faults, the callback dispatcher and its delay, and a per-process fingerprint key."""

    def __init__(
        self,
        *,
        store: Store,
        faults: FaultInjector,
        dispatcher: CallbackDispatcher,
        callback_delay_s: float,
    ) -> None:
        self._store = store
        self._faults = faults
        self._dispatcher = dispatcher
        self._delay_s = callback_delay_s
        # Per-process key for body fingerprints: a plain hash of a card number and CVV could
        # be brute-forced back, a keyed one cannot.
        self._fingerprint_key = secrets.token_bytes(32)


class Bank(Desk):
    """Accepts payments, decides their outcome by card number, and schedules the callbacks."""

    def submit(self, body: Any, idempotency_key: str | None) -> Answer:
        """Handle ``POST /payments`` (SPEC §4/§5)."""
        details = validate_payment_request(body, idempotency_key)
        if details:
            self._store.count_post(valid=False)
            message = "the payment request is invalid"
            return Answer(400, error_body("validation_error", message, details))
        self._store.count_post(valid=True)
        payment_id: str = body["payment_request_id"]
        fingerprint = self._fingerprint(body)
        faults = self._faults.current
        idempotent = self._faults.mode.idempotent
        with self._store.lock:
            record = self._store.get_or_create(payment_id)
            record.posts += 1
            # An injected outage comes first: a bank that is down answers nothing else.
            if self._faults.roll(faults.error_rate):
                log.info("fault: 503 payment=%s post=%d", payment_id, record.posts)
                return unavailable("injected fault: the bank is unavailable")
            if record.accepted and idempotent:
                return self._repeat(record, fingerprint)
            if record.accepted:
                return self._charge_again(record, faults.timeout_ms, faults.timeout_rate)
            behaviour = behaviour_for(body["card_number"])
            if behaviour.unavailable_first and not record.unavailable_answered:
                record.unavailable_answered = True
                log.info("card 0119: first post answered 503 payment=%s", payment_id)
                return unavailable("the bank is temporarily unavailable, retry later")
            capture: bool = body.get("capture", True)
            timeline = callback_timeline(
                behaviour, out_of_order=faults.out_of_order, capture=capture
            )
            final_status = behaviour.final_status(capture=capture)
            self._charge(record, body, fingerprint, final_status, timeline)
            record.capture = capture
            record.declines_capture = behaviour.declines_capture
            record.declines_refund = behaviour.declines_refund
            dropped = self._faults.roll(faults.drop_callback_rate)
            record.callbacks_dropped = dropped
            timed_out = self._faults.roll(faults.timeout_rate)
            epoch = self._store.epoch
            answer_body = self._answer_body(record)
        if dropped:
            log.info("fault: callbacks dropped payment=%s", payment_id)
        else:
            copies = faults.duplicate_callbacks
            self._schedule_callbacks(record, timeline, copies, epoch)
        if timed_out:
            log.info(
                "fault: holding the 202 for %d ms payment=%s",
                faults.timeout_ms,
                payment_id,
            )
            return Answer(202, answer_body, hold_s=faults.timeout_ms / 1000, outcome=CHARGED)
        return Answer(202, answer_body, outcome=CHARGED)

    def query(self, payment_id: str) -> Answer:
        """Handle ``GET /payments/{id}``: the bank's current status, or 404 if never accepted."""
        if not is_uuid(payment_id):
            details = [{"field": "payment_request_id", "message": "must be a UUID"}]
            body = error_body("validation_error", "invalid payment id", details)
            return Answer(400, body)
        with self._store.lock:
            record = self._store.get(payment_id)
            status = record.status_at(time.time()) if record else None
            if record is None or status is None:
                return Answer(404, error_body("not_found", NOT_RECEIVED))
            return Answer(200, {**self._answer_body(record), "status": status.value})

    def _repeat(self, record: PaymentRecord, fingerprint: str) -> Answer:
        # Same key: the same body is a retry and gets the first answer again, with no charge;
        # a different body is a client bug the bank refuses rather than guess at.
        if not hmac.compare_digest(record.fingerprint or "", fingerprint):
            log.info(
                "idempotency key reused with another body payment=%s",
                record.payment_request_id,
            )
            message = "the Idempotency-Key was used before with a different body"
            return Answer(422, error_body("idempotency_key_reused", message))
        log.info(
            "repeat answered without charge payment=%s posts=%d",
            record.payment_request_id,
            record.posts,
        )
        return Answer(202, self._answer_body(record), outcome=REPEAT)

    def _charge_again(self, record: PaymentRecord, timeout_ms: int, timeout_rate: float) -> Answer:
        # idempotency off: the bank no longer knows the key, so the POST is a new charge with
        # its own reference. The record (its status, GET and callbacks) stays the first
        # charge's: the extra charge is what the request log and `charges` count.
        record.charges += 1
        reference = "SIM-" + secrets.token_hex(10).upper()
        log.info(
            "charged again (idempotency off) payment=%s charges=%d ref=%s",
            record.payment_request_id,
            record.charges,
            reference,
        )
        body = {**self._answer_body(record), "bank_reference": reference}
        hold_s = timeout_ms / 1000 if self._faults.roll(timeout_rate) else 0.0
        return Answer(202, body, hold_s=hold_s, outcome=CHARGED)

    def _charge(
        self,
        record: PaymentRecord,
        body: dict[str, Any],
        fingerprint: str,
        final_status: BankStatus,
        timeline: list[TimelineStep],
    ) -> None:
        now = time.time()
        record.charges += 1
        record.merchant_id = body["merchant_id"]
        record.fingerprint = fingerprint
        record.bank_reference = "SIM-" + secrets.token_hex(10).upper()
        record.card_last4 = body["card_number"][-4:]
        record.amount = body["amount"]
        record.currency = body["currency"]
        record.final_status = final_status
        record.accepted_at = now
        record.final_at = now + final_step(timeline) * self._delay_s
        log.info(
            "charged payment=%s card=****%s amount=%d %s outcome=%s ref=%s",
            record.payment_request_id,
            record.card_last4,
            record.amount,
            record.currency,
            final_status.value,
            record.bank_reference,
        )

    def _schedule_callbacks(
        self,
        record: PaymentRecord,
        timeline: list[TimelineStep],
        copies: int,
        epoch: int,
    ) -> None:
        if record.accepted_at is None or record.final_at is None:
            return  # not charged: nothing to report (cannot happen, keeps mypy honest)
        for step in timeline:
            # A PROCESSING event happened when the bank took the payment; the final one when
            # it decided. Out of order, the stale PROCESSING thus arrives with an older time.
            final = step.status != BankStatus.PROCESSING
            occurred = record.final_at if final else record.accepted_at
            payload = {
                "payment_request_id": record.payment_request_id,
                "merchant_id": record.merchant_id,
                "status": step.status.value,
                "bank_reference": record.bank_reference,
                "occurred_at": rfc3339(occurred),
            }
            raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
            job = CallbackJob(record.payment_request_id, step.status.value, raw, epoch)
            for _ in range(copies):
                self._dispatcher.schedule(job, step.delay_steps * self._delay_s)

    @staticmethod
    def _answer_body(record: PaymentRecord) -> dict[str, Any]:
        return {
            "payment_request_id": record.payment_request_id,
            "bank_reference": record.bank_reference,
            "status": BankStatus.PROCESSING.value,
        }

    def _fingerprint(self, body: dict[str, Any]) -> str:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        canonical = text.encode("utf-8")
        return hmac.new(self._fingerprint_key, canonical, hashlib.sha256).hexdigest()
