"""Delivery of signed bank callbacks: one scheduler thread plus a few worker threads.

The scheduler keeps a heap of callbacks by due time and hands each due one to the workers, so
a slow or unreachable callback endpoint never delays the others. A failed delivery
(connection error, timeout, 408/429 or 5xx) goes back on the heap with exponential back-off
until ``max_attempts``; then it is logged and given up, as a real bank would eventually do.
Any other answer (2xx, or a 4xx such as 409 for a stale status) counts as delivered: the
gateway has heard it and retrying would not change its mind.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from banksim.signing import signature_header

log = logging.getLogger("bank_simulator.callbacks")

REQUEST_TIMEOUT_S = 3.0
RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True)
class CallbackJob:
    """One callback to deliver: the exact JSON bytes to sign and send, and for whom (a
    payment update, or with ``action_id`` an action update, sent to the action URL)."""

    payment_request_id: str
    status: str
    raw_body: bytes
    epoch: int
    attempt: int = 1
    action_id: str | None = None


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    job: CallbackJob = field(compare=False)


def _retryable(http_status: int) -> bool:
    return http_status >= 500 or http_status in RETRYABLE_STATUSES


# Called once per job when it is delivered (True) or given up (False).
ResultHook = Callable[[CallbackJob, bool], None]
# Tells whether a job's epoch is still current; jobs from before a reset are skipped.
LiveCheck = Callable[[int], bool]


class CallbackDispatcher:
    """Schedules callbacks and delivers them on background threads."""

    def __init__(
        self,
        *,
        url: str,
        action_url: str,
        secret: str,
        max_attempts: int,
        retry_base_s: float,
        on_result: ResultHook,
        is_live: LiveCheck,
        workers: int = 4,
    ) -> None:
        self._url = url
        self._action_url = action_url
        self._secret = secret
        self._max_attempts = max_attempts
        self._retry_base_s = retry_base_s
        self._on_result = on_result
        self._is_live = is_live
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._ready: queue.Queue[CallbackJob | None] = queue.Queue()
        # No proxy: callbacks go to a local endpoint, and an HTTP(S)_PROXY set in the
        # developer's shell must not swallow them.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        scheduler = threading.Thread(target=self._schedule_loop, name="cb-scheduler")
        self._threads = [scheduler]
        for n in range(workers):
            worker = threading.Thread(target=self._work_loop, name=f"cb-worker-{n}")
            self._threads.append(worker)
        for thread in self._threads:
            # Daemon threads: a worker stuck on a slow endpoint must not hold up process exit.
            thread.daemon = True

    def start(self) -> None:
        """Start the scheduler and the workers."""
        for thread in self._threads:
            thread.start()

    def schedule(self, job: CallbackJob, delay_s: float) -> None:
        """Deliver ``job`` after ``delay_s`` seconds."""
        with self._cond:
            if self._stopping:
                return
            entry = _Entry(time.monotonic() + delay_s, next(self._seq), job)
            heapq.heappush(self._heap, entry)
            self._cond.notify()

    def cancel_all(self) -> int:
        """Drop every callback not yet handed to a worker; return how many were dropped."""
        with self._cond:
            dropped = len(self._heap)
            self._heap.clear()
        while True:
            try:
                if self._ready.get_nowait() is not None:
                    dropped += 1
            except queue.Empty:
                return dropped

    def stop(self, timeout_s: float = 1.0) -> None:
        """Cancel pending callbacks and stop the threads (waiting at most ``timeout_s``)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        cancelled = self.cancel_all()
        if cancelled:
            log.info("shutdown: %d pending callback(s) cancelled", cancelled)
        for _ in self._threads:
            self._ready.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _schedule_loop(self) -> None:
        with self._cond:
            while not self._stopping:
                if not self._heap:
                    self._cond.wait()
                    continue
                wait_s = self._heap[0].due - time.monotonic()
                if wait_s > 0:
                    self._cond.wait(wait_s)
                    continue
                self._ready.put(heapq.heappop(self._heap).job)

    def _work_loop(self) -> None:
        while True:
            job = self._ready.get()
            if job is None:
                return
            if not self._is_live(job.epoch):
                continue
            try:
                self._deliver(job)
            except Exception:  # a bug here must not kill the worker thread
                log.exception("callback error payment=%s", job.payment_request_id)

    def _deliver(self, job: CallbackJob) -> None:
        url = self._url if job.action_id is None else self._action_url
        http_status, problem = self._post(url, job.raw_body)
        retryable = http_status is None or _retryable(http_status)
        if not retryable:
            log.info(
                "callback delivered payment=%s status=%s http=%s attempt=%d",
                job.payment_request_id,
                job.status,
                http_status,
                job.attempt,
            )
            if http_status is not None and http_status >= 400:
                log.warning(
                    "callback rejected by gateway payment=%s status=%s http=%s",
                    job.payment_request_id,
                    job.status,
                    http_status,
                )
            self._on_result(job, True)
            return
        if job.attempt >= self._max_attempts:
            log.warning(
                "callback given up payment=%s status=%s attempts=%d last_error=%s",
                job.payment_request_id,
                job.status,
                job.attempt,
                problem,
            )
            self._on_result(job, False)
            return
        backoff_s = self._retry_base_s * 2 ** (job.attempt - 1)
        log.info(
            "callback failed payment=%s status=%s attempt=%d error=%s; retrying in %.2fs",
            job.payment_request_id,
            job.status,
            job.attempt,
            problem,
            backoff_s,
        )
        self.schedule(replace(job, attempt=job.attempt + 1), backoff_s)

    def _post(self, url: str, raw_body: bytes) -> tuple[int | None, str]:
        """POST the signed body; return (HTTP status or None if no answer, a short reason)."""
        # Signed at send time, so a retry carries a fresh timestamp the gateway will accept.
        request = urllib.request.Request(
            url,
            data=raw_body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Bank-Signature": signature_header(self._secret, raw_body),
                "User-Agent": "bank-simulator/1.0",
            },
        )
        try:
            with self._opener.open(request, timeout=REQUEST_TIMEOUT_S) as response:
                response.read()
                return response.status, f"http {response.status}"
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code, f"http {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"{type(exc).__name__}: {reason}"
