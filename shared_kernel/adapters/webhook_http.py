"""WebhookPoster over HTTP(S) with the standard library: one POST to a merchant's endpoint.

The URL is the merchant's choice, so the request is made the way the SSRF rules need
(docs/webhooks.md): it connects only to an address the URL guard checked (never resolving the
host again: DNS can change between the check and the connection), follows no redirect (a 3xx
is an answer like any other non-2xx), uses no proxy (`http.client` reads no proxy variables),
and the whole request — connect, TLS, sending, the status line and headers — is bounded by
one deadline: a socket timeout only bounds each read, so a receiver trickling a byte at a
time would outlast it; a timer shuts the socket down when the deadline passes. The answer's
body is never read: only its status counts. TLS verifies the certificate against the URL's
host name (SNI and hostname check), not the address connected to.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from shared_kernel.application.webhook_ports import PostResult

TIMEOUT_S = 10.0  # SPEC §10: a 2xx within 10 s is delivered
TIMED_OUT = "timeout"


class _Deadline:
    """Shuts a socket down when the request's time is up, and says whether it did."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.fired = threading.Event()
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        """Seconds left (at least a millisecond, for a socket timeout)."""
        return max(self.ends - time.monotonic(), 0.001)

    def watch(self, sock: socket.socket) -> None:
        """From now on the deadline shuts `sock` down (the TLS one once it is wrapped)."""
        with self._lock:
            self._socket = sock
            if self.fired.is_set():
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """The request is over: the timer stops."""
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired.set()
            if self._socket is not None:
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed: the request ended as the deadline passed


class HttpWebhookPoster:
    """POSTs webhook bodies, each request bounded by `timeout_s` in all."""

    def __init__(self, timeout_s: float = TIMEOUT_S, tls: ssl.SSLContext | None = None) -> None:
        # `tls`: the system's roots, verifying the host name, unless a test gives its own.
        self._timeout_s = timeout_s
        self._tls = tls or ssl.create_default_context()

    def post(
        self, url: str, addresses: Sequence[str], headers: dict[str, str], body: bytes
    ) -> PostResult:
        """The status of the answer, or the reason there was none (timeout, connection_failed,
        invalid_response); `duration_ms` from the start to the status line."""
        started = time.monotonic()
        deadline = _Deadline(self._timeout_s)
        status: int | None = None
        error: str | None = None
        try:
            status = self._send(url, addresses, headers, body, deadline)
        except (OSError, http.client.HTTPException, ValueError) as failure:
            # ValueError: a host name IDNA cannot encode, or a certificate name mismatch.
            error = _reason(failure)
        finally:
            deadline.cancel()
        if deadline.fired.is_set():
            status, error = None, TIMED_OUT
        return PostResult(status, error, round((time.monotonic() - started) * 1000))

    def _send(
        self,
        url: str,
        addresses: Sequence[str],
        headers: dict[str, str],
        body: bytes,
        deadline: _Deadline,
    ) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        sock = _connect(addresses, port, deadline)
        try:
            deadline.watch(sock)
            if https:
                # Watched before the handshake: wrapping detaches the plain socket, so the
                # deadline must hold the TLS one while a slow handshake runs.
                sock = self._tls.wrap_socket(
                    sock, server_hostname=host, do_handshake_on_connect=False
                )
                deadline.watch(sock)
                sock.do_handshake()
            connection = http.client.HTTPConnection(host, port, timeout=deadline.left())
            connection.sock = sock  # connected to the checked address: never resolved again
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            return int(response.status)
        finally:
            sock.close()


def _connect(addresses: Sequence[str], port: int, deadline: _Deadline) -> socket.socket:
    """A TCP connection to the first checked address that accepts one in time."""
    if not addresses:
        raise ConnectionError("no checked address to connect to")
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=deadline.left())
        except OSError as failure:
            last = failure
    assert last is not None
    raise last


def _reason(failure: BaseException) -> str:
    if isinstance(failure, TimeoutError):
        return TIMED_OUT
    if isinstance(failure, http.client.HTTPException):
        return "invalid_response"
    return "connection_failed"
