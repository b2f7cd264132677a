"""The local verifying webhook receiver (`make start`, http://127.0.0.1:3003,
`WEBHOOK_SINK_PORT`): what a merchant's endpoint does, for the demo and the tests.

Every POST to a path outside `/_sink/` is a delivery: its `Gateway-Signature` is verified
against the secrets the receiver was told (any `v1` matching any secret, `t` within 300 s,
constant-time compare, over the raw body). A verified event is printed in one line and kept
(answer 204); a missing or bad signature is 400 and nothing is kept.

Its own controls, for the demo and tests on this machine:
  POST /_sink/secrets {"secret": "whsec_..."}  add a secret to verify with (204)
  GET  /_sink/events                            the verified events, oldest first (200)
  GET  /_sink/health                            200

`python -m local.webhook_sink [-p PORT]` runs it alone. It listens on 127.0.0.1 only and
never logs a secret or a signature.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_PORT = 3003
TOLERANCE_S = 300
MAX_BODY_BYTES = 1024 * 1024
CONTROL_PREFIX = "/_sink/"


def verify(
    raw_body: bytes, header: str, secrets: Sequence[str], now: float, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether `header` (t=...,v1=...[,v1=...]) signs `raw_body` with one of `secrets`
    within `tolerance_s` of `now`."""
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            given.append(value)
    if timestamp is None or not given or abs(now - timestamp) > tolerance_s:
        return False
    signed = str(timestamp).encode() + b"." + raw_body
    expected = [hmac.new(s.encode("utf-8"), signed, hashlib.sha256).hexdigest() for s in secrets]
    # Every pair compared, so the time taken does not say which one matched.
    matches = [hmac.compare_digest(e, g) for e in expected for g in given]
    return any(matches)


def summary(event: dict[str, Any]) -> str:
    """One line about a verified event: its type, id and object."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    return (
        f"webhook verified: {event.get('type')} event={event.get('id')} "
        f"object={obj.get('id')} status={obj.get('status')}"
    )


class WebhookSink:
    """The receiver's state: the secrets it verifies with and the events it verified."""

    def __init__(self, clock: Callable[[], float] = time.time, out: Any = None) -> None:
        self.clock = clock
        self.out = out if out is not None else sys.stdout
        self.lock = threading.Lock()
        self.secrets: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.refused = 0

    def add_secret(self, secret: str) -> None:
        """Verify with `secret` from now on."""
        with self.lock:
            if secret not in self.secrets:
                self.secrets.append(secret)

    def deliver(self, raw_body: bytes, header: str | None, event_id: str | None) -> bool:
        """Verify one delivery; keep and print it if it is good."""
        with self.lock:
            secrets = list(self.secrets)
        if header is None or not verify(raw_body, header, secrets, self.clock()):
            with self.lock:
                self.refused += 1
            return False
        try:
            event = json.loads(raw_body)
        except ValueError:
            event = {}
        if not isinstance(event, dict):
            event = {}
        with self.lock:
            self.events.append({"event_id": event_id, "event": event})
        print(summary(event), file=self.out, flush=True)
        return True


def _handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "webhook-sink"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the one line per verified event is the receiver's output."""

        def _answer(self, status: int, body: object = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return None
            return self.rfile.read(length)

        def do_GET(self) -> None:
            if self.path == CONTROL_PREFIX + "events":
                with sink.lock:
                    events = list(sink.events)
                self._answer(200, {"data": events, "refused": sink.refused})
            elif self.path == CONTROL_PREFIX + "health":
                self._answer(200, {"status": "ok"})
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = self._body()
            if body is None:
                self._answer(413, {"error": "body too large"})
            elif self.path == CONTROL_PREFIX + "secrets":
                self._add_secret(body)
            elif self.path.startswith(CONTROL_PREFIX):
                self._answer(404, {"error": "not found"})
            elif sink.deliver(
                body, self.headers.get("Gateway-Signature"), self.headers.get("Gateway-Event-Id")
            ):
                self._answer(204)
            else:
                self._answer(400, {"error": "bad or missing Gateway-Signature"})

        def _add_secret(self, body: bytes) -> None:
            try:
                secret = json.loads(body).get("secret")
            except (ValueError, AttributeError):
                secret = None
            if not isinstance(secret, str) or not secret.startswith("whsec_"):
                self._answer(400, {"error": 'send {"secret": "whsec_..."}'})
                return
            sink.add_secret(secret)
            self._answer(HTTPStatus.NO_CONTENT)

    return Handler


def start_sink(
    port: int, sink: WebhookSink | None = None
) -> tuple[ThreadingHTTPServer, WebhookSink]:
    """Serve a receiver on 127.0.0.1:`port` in a daemon thread; stop it with `.shutdown()`."""
    state = sink or WebhookSink()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="webhook-sink", daemon=True).start()
    return server, state


def main(argv: list[str] | None = None) -> int:
    """Run the receiver in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default = int(os.environ.get("WEBHOOK_SINK_PORT", DEFAULT_PORT))
    parser.add_argument("-p", "--port", type=int, default=default)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(WebhookSink()))
    print(f"webhook receiver on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
