"""A webhook receiver of the test's own on 127.0.0.1 (a free port): it records every request
and answers as told — a status, after a delay, trickling its status line a byte at a time, or
never. Stopped by the test (its own server object, never by a process name)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    """How the receiver answers: `status` after `delay_s`; `trickle_s` > 0 sends the status
    line one byte per `trickle_s`; `hang` answers nothing until stopped."""

    status: int = 200
    delay_s: float = 0.0
    trickle_s: float = 0.0
    hang: bool = False
    location: str | None = None


@dataclass
class WebhookReceiver:
    """The server, what it received, and how it answers (changeable while it runs)."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    received: list[Received] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(
                    Received("POST", self.path, dict(self.headers.items()), body, time.monotonic())
                )
                receiver.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads `received`."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hooks", host: str = "127.0.0.1") -> str:
        """The URL of `path` on this receiver (under another host name if given)."""
        return f"http://{host}:{self.port}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request as `behaviour` says."""
        self.respond(handler, self.behaviour)

    def respond(self, handler: BaseHTTPRequestHandler, b: Behaviour) -> None:
        """Answer one request as `b` says."""
        if b.hang:
            self.stopping.wait(60)
            return
        time.sleep(b.delay_s)
        if b.trickle_s > 0:
            for byte in f"HTTP/1.1 {b.status} X\r\n".encode():
                if self.stopping.wait(b.trickle_s):
                    return
                try:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                except OSError:
                    return  # the sender gave up and closed the connection
            handler.wfile.write(b"Content-Length: 0\r\n\r\n")
            return
        handler.send_response(b.status)
        if b.location:
            handler.send_header("Location", b.location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def stop(self) -> None:
        """Stop serving and release any request held open."""
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class ScriptedReceiver(WebhookReceiver):
    """A receiver whose answer depends on how many requests of the same event (its
    Gateway-Event-Id) it has seen: `script(n)` for the n-th, 1-based."""

    def __init__(self, script: Callable[[int], Behaviour]) -> None:
        self.script = script
        self.lock = threading.Lock()
        super().__init__()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """The behaviour the script gives this request's rank among its event's."""
        with self.lock:
            event_id = handler.headers["Gateway-Event-Id"]
            n = sum(1 for r in self.received if r.headers["Gateway-Event-Id"] == event_id)
            behaviour = self.script(n)
        self.respond(handler, behaviour)
