"""The edge proxy: a small reverse proxy where API Gateway sits, in front of serverless-offline.

serverless-offline ignores `AWS::ApiGateway::GatewayResponse` resources and answers with its
own Hapi/Boom bodies instead, so locally a merchant would see
`{"statusCode":401,"error":"Unauthorized",...}` where AWS answers our error body. `EdgeProxy`
forwards every request unchanged (the body byte for byte: the bank callback's HMAC covers the
raw body) and returns the upstream answer unchanged, except when serverless-offline itself
produced the error (`local.edge.offline_errors`); then it answers what API Gateway would, from
the serverless.yml's gateway responses (`local.edge.gateway_responses`). With an
`EdgeAuthorizer` it also does API Gateway's authorizer step, result cache included
(`local.edge.authorizer`); every edge drops a client's `sls-offline-authorizer-override`.
Per-request log lines go to stderr only with `EDGE_LOG=1`.
"""

from __future__ import annotations

import http.client
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.edge.authorizer import OVERRIDE_HEADER, EdgeAuthorizer
from local.edge.gateway_responses import HttpReply, as_gateway_response, gateway_reply
from local.edge.offline_errors import (
    DEFAULT_4XX,
    OfflineError,
    classify_offline_error,
    server_error,
)

LOG = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"

HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NO_BODY_STATUSES = frozenset({204, 304})


class _UpstreamPool:
    """A few idle keep-alive connections to the upstream, shared by the proxy's threads."""

    def __init__(self, host: str, port: int, timeout: float, max_idle: int = 16) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout
        self._max_idle = max_idle
        # Node closes idle keep-alive sockets after 5 s; never reuse one that may be closing.
        self._idle_ttl = 3.0
        self._idle: list[tuple[float, http.client.HTTPConnection]] = []
        self._lock = threading.Lock()

    def acquire(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection and whether it was reused (a stale reused one may be retried)."""
        now = time.monotonic()
        stale: list[http.client.HTTPConnection] = []
        conn: http.client.HTTPConnection | None = None
        with self._lock:
            while self._idle:
                released_at, candidate = self._idle.pop()
                if now - released_at < self._idle_ttl:
                    conn = candidate
                    break
                stale.append(candidate)
        for old in stale:
            old.close()
        if conn is not None:
            return conn, True
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout), False

    def release(self, conn: http.client.HTTPConnection) -> None:
        """Return a connection whose answer was read in full."""
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append((time.monotonic(), conn))
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()


class EdgeProxy:
    """A reverse proxy that answers serverless-offline's own errors as API Gateway would."""

    def __init__(
        self,
        listen_port: int,
        upstream_port: int,
        gateway_responses: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        host: str = LOCALHOST,
        upstream_host: str = LOCALHOST,
        upstream_timeout: float = 60.0,
        authorizer: EdgeAuthorizer | None = None,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.authorizer = authorizer
        self.gateway_responses = {
            name: as_gateway_response(entry) for name, entry in (gateway_responses or {}).items()
        }
        self._pool = _UpstreamPool(upstream_host, upstream_port, upstream_timeout)
        self._server = _EdgeServer((host, listen_port), _EdgeHandler, self)
        self._thread: threading.Thread | None = None
        self.log_requests = os.environ.get("EDGE_LOG") == "1"

    @property
    def port(self) -> int:
        """The port the proxy listens on (useful when it was started on port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        host = self._server.server_address[0]
        return f"http://{host!s}:{self.port}"

    def start(self) -> EdgeProxy:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"edge-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close the listening socket and the upstream connections."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._pool.close()

    def __enter__(self) -> EdgeProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def handle(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> HttpReply:
        """Forward one request and return the answer the client must get."""
        if self.authorizer is None:
            headers = [(name, value) for name, value in headers if name.lower() != OVERRIDE_HEADER]
        else:
            authorized = self.authorizer.authorize(method, target, headers)
            if isinstance(authorized, OfflineError):
                return self.gateway_reply(authorized, method, target)
            headers = authorized
        try:
            reply = self._exchange(method, target, headers, body)
        except (http.client.InvalidURL, UnicodeError) as error:
            LOG.info("edge: cannot forward %r: %r", target, error)
            return self.gateway_reply(OfflineError(DEFAULT_4XX, 400, "Bad Request"), method, target)
        except TimeoutError:
            LOG.info("upstream %s:%s timed out on %s %s", *self.upstream, method, target)
            return self.gateway_reply(server_error(504), method, target)
        except (OSError, http.client.HTTPException) as error:
            LOG.info("upstream %s:%s failed on %s %s: %r", *self.upstream, method, target, error)
            return self.gateway_reply(server_error(502), method, target)
        offline_error = classify_offline_error(reply.status, reply.body)
        if offline_error is None:
            return reply
        return self.gateway_reply(offline_error, method, target)

    def gateway_reply(self, error: OfflineError, method: str, target: str) -> HttpReply:
        """The answer API Gateway gives for `error`, with our customised gateway responses."""
        return gateway_reply(self.gateway_responses, error, method, target)

    def _exchange(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> HttpReply:
        for attempt in range(2):
            conn, reused = self._pool.acquire()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                if body or method in ("POST", "PUT", "PATCH"):
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                # A reused keep-alive connection the upstream closed meanwhile: one fresh try.
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._pool.release(conn)
            return HttpReply(
                response.status, response.reason, _end_to_end(response.getheaders()), data
            )
        raise http.client.HTTPException("unreachable")  # pragma: no cover


def _end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop hop-by-hop headers (and those a `Connection` header names)."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return [
        (name, value)
        for name, value in headers
        if name.lower() not in HOP_BY_HOP_HEADERS and name.lower() not in named
    ]


class _EdgeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], edge: EdgeProxy
    ) -> None:
        self.edge = edge
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away is not news; never print tracebacks on stderr.
        LOG.debug("edge: error while serving %s", client_address, exc_info=True)


class _RequestAborted(Exception):
    """The client sent a body that could not be read in full."""


class _EdgeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120
    server: _EdgeServer

    def _proxy(self) -> None:
        edge = self.server.edge
        try:
            body = self._read_body()
        except _RequestAborted:
            self.close_connection = True
            return
        headers = _end_to_end(list(self.headers.items()))
        # The proxy computes the length and has already answered any `Expect: 100-continue`.
        headers = [
            (name, value)
            for name, value in headers
            if name.lower() not in ("content-length", "expect")
        ]
        if not any(name.lower() == "host" for name, _ in headers):
            headers.insert(0, ("Host", f"{edge.upstream[0]}:{edge.upstream[1]}"))
        headers.extend(self._forwarded_headers(headers))
        self._send(edge.handle(self.command, self.path, headers, body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    def __getattr__(self, name: str) -> Any:
        # Every other method (TRACE, QUERY, ...) is proxied as well, so that it gets the API's
        # answer rather than http.server's own 501 HTML page (found by Schemathesis).
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError as error:
            raise _RequestAborted from error
        try:
            body = self.rfile.read(length)
        except OSError as error:
            raise _RequestAborted from error
        if len(body) != length:
            raise _RequestAborted
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        try:
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers: not forwarded
                    return b"".join(chunks)
                chunk = self.rfile.read(size)
                if len(chunk) != size:
                    raise _RequestAborted
                chunks.append(chunk)
                self.rfile.readline(3)
        except (OSError, ValueError) as error:
            raise _RequestAborted from error

    def _forwarded_headers(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """What API Gateway adds for the integration: X-Forwarded-For/-Proto/-Port."""
        present = {name.lower() for name, _ in headers}
        added = []
        if "x-forwarded-for" not in present:
            added.append(("X-Forwarded-For", self.client_address[0]))
        if "x-forwarded-proto" not in present:
            added.append(("X-Forwarded-Proto", "http"))
        if "x-forwarded-port" not in present:
            added.append(("X-Forwarded-Port", str(self.server.server_address[1])))
        return added

    def _send(self, reply: HttpReply) -> None:
        head_only = self.command == "HEAD"
        try:
            self.send_response_only(reply.status, reply.reason or None)
            has_date = False
            for name, value in reply.headers:
                lowered = name.lower()
                if lowered == "content-length" and not head_only:
                    continue
                has_date = has_date or lowered == "date"
                self.send_header(name, value)
            if not has_date:
                self.send_header("Date", self.date_time_string())
            if reply.status not in _NO_BODY_STATUSES and reply.status >= 200 and not head_only:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not head_only and reply.status not in _NO_BODY_STATUSES and reply.body:
                self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:  # client disconnected: BrokenPipe, ConnectionReset, timeout
            self.close_connection = True
            return
        self.log_request(reply.status, len(reply.body))

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.edge.log_requests:
            sys.stderr.write(f"edge {self.address_string()} - {format % args}\n")


def start_edge(
    listen_port: int,
    upstream_port: int,
    gateway_responses: Mapping[str, Mapping[str, Any]] | None = None,
    authorizer: EdgeAuthorizer | None = None,
) -> EdgeProxy:
    """Start an edge proxy on 127.0.0.1:listen_port in a daemon thread; `.close()` stops it."""
    return EdgeProxy(listen_port, upstream_port, gateway_responses, authorizer=authorizer).start()
