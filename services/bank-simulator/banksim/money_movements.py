"""Captures, voids and refunds (SPEC §8): accepted at most once per action id, settled by a
signed callback after the delay, and judged against each payment's balances.

The balances make the simulator a witness, not a guard: it answers ``422`` to what a correct
gateway never sends (a capture of a payment that is not authorised or above the authorised
amount, a second capture, a refund above the captured amount less refunds, a void of a
captured payment), and the request log and ``/_sim/stats`` show each one. Pending actions
count as much as succeeded ones: a refund holds its amount from its acceptance, a capture or
void holds the authorisation, until the bank declines it. In the ``idempotency: off`` mode a
repeat of an accepted action is executed again (``applied`` grows) without being judged
again, as the extra charges of payments are: the balances judge the gateway's distinct
actions, ``applied`` counts what a bank without idempotency would have moved.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import Any

from banksim.bank import NOT_RECEIVED, Answer, Desk, rfc3339, unavailable
from banksim.callbacks import CallbackJob
from banksim.errors import error_body
from banksim.faults import Faults
from banksim.outcomes import BankStatus
from banksim.request_log import APPLIED, REPEAT
from banksim.store import DECLINED, PROCESSING, SUCCEEDED, ActionRecord, PaymentRecord
from banksim.validation import is_uuid, validate_action_request

log = logging.getLogger("bank_simulator.money_movements")

# The path segment of each action's POST, and the action type it asks for.
SEGMENTS = {"captures": "capture", "voids": "void", "refunds": "refund"}
ACTION_NOT_RECEIVED = "the bank never received this action"


def refusal(payment: PaymentRecord, action_type: str, amount: int, now: float) -> Answer | None:
    """The 422 the payment's balances answer to a new action of ``amount``; None to accept."""
    if action_type in ("capture", "void"):
        authorised = payment.status_at(now) is BankStatus.AUTHORIZED
        if not authorised or payment.held("void", now):
            message = f"a {action_type} needs an authorisation"
            return Answer(422, error_body("payment_not_authorized", message))
        if payment.held("capture", now):
            message = "the authorisation has a capture already"
            return Answer(422, error_body("already_captured", message))
        if action_type == "capture" and amount > (payment.amount or 0):
            message = "the capture is above the authorised amount"
            return Answer(422, error_body("amount_too_large", message))
        return None
    captured = payment.captured(now)
    if captured == 0:
        message = "only a captured payment can be refunded"
        return Answer(422, error_body("payment_not_captured", message))
    refundable = captured - sum(refund.amount for refund in payment.held("refund", now))
    if amount > refundable:
        message = "the refund is above what is left to refund"
        return Answer(422, error_body("amount_too_large", message))
    return None


def _accepted_body(action: ActionRecord) -> dict[str, Any]:
    return {"action_id": action.action_id, "status": PROCESSING}


class MoneyMovements(Desk):
    """Accepts captures, voids and refunds of the payments the bank holds, and reports them."""

    def submit(self, payment_id: str, action_type: str, body: Any, key: str | None) -> Answer:
        """Handle ``POST /payments/{id}/captures|voids|refunds`` (SPEC §8)."""
        details = validate_action_request(action_type, body, key)
        if not is_uuid(payment_id):
            details.insert(0, {"field": "payment_request_id", "message": "must be a UUID"})
        if details:
            self._store.count_action_post(valid=False)
            message = f"the {action_type} request is invalid"
            return Answer(400, error_body("validation_error", message, details))
        faults = self._faults.current
        fingerprint = self._fingerprint(payment_id, action_type, body)
        with self._store.lock:
            action = self._store.action(body["action_id"])
            payment = self._store.get(payment_id)
            refused = None
            if action is not None:
                action.received += 1
            # An injected outage comes first: a bank that is down answers nothing else.
            if self._faults.roll(faults.error_rate):
                answer = unavailable("injected fault: the bank is unavailable")
            elif payment is None or not payment.accepted:
                answer = Answer(404, error_body("not_found", NOT_RECEIVED))
            elif action is not None:
                answer = self._repeat(action, fingerprint, faults)
            else:
                # A void releases (and is recorded with) the whole authorised amount.
                amount = body["amount"] if "amount" in body else payment.amount or 0
                refused = refusal(payment, action_type, amount, time.time())
                answer = refused or self._accept(
                    payment, action_type, amount, body, fingerprint, faults
                )
            self._store.count_action_post(valid=True, refused=refused is not None)
        if refused:
            code = refused.body["error"]["code"]
            log.info("refused %s payment=%s: %s", action_type, payment_id, code)
        return answer

    def query(self, payment_id: str, action_id: str) -> Answer:
        """Handle ``GET /payments/{id}/actions/{action_id}``: 200 with the action's status,
        or 404 if the bank never accepted it (for this payment)."""
        details = [
            {"field": name, "message": "must be a UUID"}
            for name, value in (("payment_request_id", payment_id), ("action_id", action_id))
            if not is_uuid(value)
        ]
        if details:
            return Answer(400, error_body("validation_error", "invalid id", details))
        with self._store.lock:
            action = self._store.action(action_id)
            if action is None or action.payment_request_id != payment_id:
                return Answer(404, error_body("not_found", ACTION_NOT_RECEIVED))
            return Answer(200, action.report(time.time()))

    def _accept(
        self,
        payment: PaymentRecord,
        action_type: str,
        amount: int,
        body: dict[str, Any],
        fingerprint: str,
        faults: Faults,
    ) -> Answer:
        # Called holding the store's lock: the balance check and the new action are one step.
        declines = (action_type == "capture" and payment.declines_capture) or (
            action_type == "refund" and payment.declines_refund
        )
        now = time.time()
        action = ActionRecord(
            action_id=body["action_id"],
            payment_request_id=payment.payment_request_id,
            type=action_type,
            amount=amount,
            fingerprint=fingerprint,
            final_status=DECLINED if declines else SUCCEEDED,
            accepted_at=now,
            final_at=now + self._delay_s,
        )
        self._store.add_action(payment, action)
        action.callbacks_dropped = self._faults.roll(faults.drop_callback_rate)
        log.info(
            "accepted %s payment=%s action=%s amount=%d outcome=%s",
            action_type,
            payment.payment_request_id,
            action.action_id,
            amount,
            action.final_status,
        )
        if not action.callbacks_dropped:
            self._schedule_callbacks(action, payment.merchant_id, faults.duplicate_callbacks)
        return self._accepted(action, faults)

    def _repeat(self, action: ActionRecord, fingerprint: str, faults: Faults) -> Answer:
        if not self._faults.mode.idempotent:
            # The bank has lost its key store: the repeat is executed again.
            action.applied += 1
            log.info(
                "applied again (idempotency off) action=%s n=%d", action.action_id, action.applied
            )
            return self._accepted(action, faults)
        if not hmac.compare_digest(action.fingerprint, fingerprint):
            message = "the Idempotency-Key was used before with a different request"
            return Answer(422, error_body("idempotency_key_reused", message))
        return Answer(202, _accepted_body(action), outcome=REPEAT)

    def _accepted(self, action: ActionRecord, faults: Faults) -> Answer:
        """The 202 of an executed action, held for ``timeout_ms`` when the fault draws it."""
        hold_s = faults.timeout_ms / 1000 if self._faults.roll(faults.timeout_rate) else 0.0
        return Answer(202, _accepted_body(action), hold_s=hold_s, outcome=APPLIED)

    def _schedule_callbacks(
        self, action: ActionRecord, merchant_id: str | None, copies: int
    ) -> None:
        payload = {
            "payment_request_id": action.payment_request_id,
            "merchant_id": merchant_id,
            "action_id": action.action_id,
            "type": action.type,
            "status": action.final_status,
            "occurred_at": rfc3339(action.final_at),
        }
        raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        job = CallbackJob(
            action.payment_request_id,
            action.final_status,
            raw,
            self._store.epoch,
            action_id=action.action_id,
        )
        for _ in range(copies):
            self._dispatcher.schedule(job, self._delay_s)

    def _fingerprint(self, payment_id: str, action_type: str, body: dict[str, Any]) -> str:
        text = json.dumps([payment_id, action_type, body], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._fingerprint_key, text.encode("utf-8"), hashlib.sha256).hexdigest()
