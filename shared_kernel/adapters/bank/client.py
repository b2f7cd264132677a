"""AcquiringBank and BankActions over HTTP (SPEC §4, §8), with urllib3: already loaded by
botocore, so it adds nothing to a cold start.

Every failure is sorted into one of two kinds: BankRejected (400/422: the request is invalid,
never retry; for an action a 404, BankUnknownPayment, too) and BankUnavailable (anything
else: 401/403, 5xx, timeouts, connection errors, answers that break their contract; the
outcome is unknown). There are no automatic retries: the queue's redelivery is the retry
policy, and each retry carries the same Idempotency-Key (the payment id, or the action id).
A payment's request body holds the card number and CVV: it is never logged.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from uuid import UUID

import urllib3
from urllib3.exceptions import HTTPError

from shared_kernel.adapters.bank.transformers import (
    parse_acceptance,
    parse_action_acceptance,
    parse_action_report,
    parse_status_report,
    to_action_request,
    to_bank_request,
)
from shared_kernel.application.errors import BankRejected, BankUnavailable, BankUnknownPayment
from shared_kernel.application.ports import (
    NO_METRICS,
    BankAcceptance,
    BankActionReport,
    BankActionRequest,
    BankPaymentRequest,
    BankStatusReport,
    Metrics,
)
from shared_kernel.observability.tracing import bank_call

logger = logging.getLogger(__name__)

# Connections kept alive per bank host: the forwarder sends a batch of up to 10 at once.
POOL_MAXSIZE = 10
_REJECTED = frozenset({400, 422})
_REFUSED_CREDENTIALS = frozenset({401, 403})


class HttpAcquiringBank:
    """The bank's `POST /payments` and `GET /payments/{id}` (AcquiringBank), and its
    captures, voids, refunds and `GET .../actions/{id}` (BankActions); safe to share between
    threads."""

    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        connect_timeout: float,
        read_timeout: float,
        pool: urllib3.PoolManager | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pool = pool or urllib3.PoolManager(
            maxsize=POOL_MAXSIZE, retries=False, timeout=self._timeout
        )

    def submit(self, request: BankPaymentRequest) -> BankAcceptance:
        """Ask the bank to charge, with the payment id as Idempotency-Key.

        Raises BankRejected (invalid: never retry) or BankUnavailable (outcome unknown).
        """
        body = json.dumps(to_bank_request(request), separators=(",", ":")).encode()
        response = self._send(
            "submit",
            request.payment_id,
            request.merchant_id,
            "POST",
            f"{self._base_url}/payments",
            body=body,
            headers=_post_headers(request.payment_id, request.correlation_id),
        )
        if response.status == 202:
            return parse_acceptance(response.data, request.payment_id)
        if response.status in _REJECTED:
            raise BankRejected(f"bank rejected the payment request (HTTP {response.status})")
        raise self._unavailable(response.status)

    def status_of(self, payment_id: UUID) -> BankStatusReport | None:
        """The bank's status for a payment; None if the bank never received it (404).

        Raises BankUnavailable for any other answer than 200 or 404.
        """
        response = self._send(
            "status", payment_id, None, "GET", f"{self._base_url}/payments/{payment_id}"
        )
        if response.status == 200:
            return parse_status_report(response.data, payment_id)
        if response.status == 404:
            return None
        raise self._unavailable(response.status)

    def submit_action(self, request: BankActionRequest) -> None:
        """Send a capture, void or refund, with the action id as Idempotency-Key; returns
        when the bank accepted it (202).

        Raises BankRejected (400/422: never retry), BankUnknownPayment (404) or
        BankUnavailable (outcome unknown: retry with the same id, or query).
        """
        segment, action_body = to_action_request(request)
        response = self._send(
            str(request.type),
            request.payment_id,
            request.merchant_id,
            "POST",
            f"{self._base_url}/payments/{request.payment_id}/{segment}",
            body=json.dumps(action_body, separators=(",", ":")).encode(),
            headers=_post_headers(request.action_id, request.correlation_id),
        )
        if response.status == 202:
            parse_action_acceptance(response.data, request.action_id)
            return
        if response.status == 404:
            raise BankUnknownPayment(f"bank does not know the payment of this {request.type}")
        if response.status in _REJECTED:
            raise BankRejected(f"bank rejected the {request.type} (HTTP {response.status})")
        raise self._unavailable(response.status)

    def action_status_of(self, payment_id: UUID, action_id: UUID) -> BankActionReport | None:
        """The bank's status for an action; None if the bank never received it (404).

        Raises BankUnavailable for any other answer than 200 or 404.
        """
        url = f"{self._base_url}/payments/{payment_id}/actions/{action_id}"
        response = self._send("action_status", payment_id, None, "GET", url)
        if response.status == 200:
            return parse_action_report(response.data, action_id)
        if response.status == 404:
            return None
        raise self._unavailable(response.status)

    def _send(
        self,
        operation: str,
        payment_id: UUID,
        merchant_id: UUID | None,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        all_headers = {
            "Accept": "application/json",
            "Authorization": f"Bearer {self._api_key()}",
            **(headers or {}),
        }
        started = time.perf_counter()
        try:
            with bank_call(operation, payment_id=payment_id, merchant_id=merchant_id):
                response = self._pool.request(
                    method,
                    url,
                    body=body,
                    headers=all_headers,
                    timeout=self._timeout,
                    retries=False,
                    redirect=False,
                )
        except HTTPError as error:
            # Timeouts, refused or reset connections, broken answers: the outcome is unknown.
            self._metrics.count("BankErrors", operation=operation, error=type(error).__name__)
            raise BankUnavailable(f"bank unreachable ({type(error).__name__})") from error
        finally:
            # No dimension: the invocation's timings share its one EMF line (a list of values).
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._metrics.timing_ms(_latency_metric(operation), elapsed_ms)
        if response.status >= 500 or response.status in _REFUSED_CREDENTIALS:
            self._metrics.count("BankErrors", operation=operation, error=f"http_{response.status}")
        return response

    @staticmethod
    def _unavailable(status: int) -> BankUnavailable:
        if status in _REFUSED_CREDENTIALS:
            logger.error("bank refused the gateway's credentials", extra={"http_status": status})
        return BankUnavailable(f"bank answered HTTP {status}")


def _post_headers(idempotency_key: UUID, correlation_id: str | None) -> dict[str, str]:
    """The headers of a POST to the bank, beside Accept and Authorization."""
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": str(idempotency_key),
        **({"X-Correlation-Id": correlation_id} if correlation_id else {}),
    }


def _latency_metric(operation: str) -> str:
    """`submit` -> BankSubmitLatency, `action_status` -> BankActionStatusLatency."""
    return "Bank" + "".join(part.capitalize() for part in operation.split("_")) + "Latency"
