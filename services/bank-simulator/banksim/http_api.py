"""HTTP routes of the simulator: the bank API (SPEC §4, §8) and the ``/_sim`` test API.

Bank API (``Authorization: Bearer <BANK_API_KEY>`` required):
    POST /payments                 accept a payment (Idempotency-Key = payment_request_id)
    GET  /payments/{id}            the bank's current status of a payment
    POST /payments/{id}/captures   capture an authorisation (Idempotency-Key = action_id)
    POST /payments/{id}/voids      release an authorisation (Idempotency-Key = action_id)
    POST /payments/{id}/refunds    refund a captured payment (Idempotency-Key = action_id)
    GET  /payments/{id}/actions/{action_id}   the bank's current status of an action

Test API (no auth; the server only listens on loopback):
    GET  /health                   {"ok": true}
    GET  /_sim/payments            every record
    GET  /_sim/payments/{id}       one record: posts, charges, status, callbacks_sent, actions, ...
    GET  /_sim/actions/{id}        one action: received, applied, status, callbacks_sent, ...
    GET  /_sim/stats               totals, including double_charged and applied_twice
    GET  /_sim/requests            every POST received, in order (?after=&limit=&kind=)
    GET  /_sim/faults              the fault settings in force
    PUT  /_sim/faults              replace the fault settings
    GET  /_sim/mode                the bank's mode ({"idempotency": "on" | "off"})
    PUT  /_sim/mode                replace the mode
    POST /_sim/reset               forget every record and request, clear faults and mode,
                                   cancel pending callbacks
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from banksim.bank import NOT_RECEIVED, Answer, Bank
from banksim.callbacks import CallbackDispatcher
from banksim.errors import error_body
from banksim.faults import FaultInjector, FaultsValidationError, parse_faults, parse_mode
from banksim.money_movements import ACTION_NOT_RECEIVED, SEGMENTS, MoneyMovements
from banksim.request_log import KINDS, PostEntry, RequestLog
from banksim.store import Store

log = logging.getLogger("bank_simulator.http")

MAX_BODY_BYTES = 64 * 1024
_ID_SEGMENT = r"(?P<payment_id>[^/]+)"
_ACTION_SEGMENT = r"(?P<action_id>[^/]+)"


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server holding the simulator's state for its handlers."""

    daemon_threads = True
    # Do not wait for handler threads on close: one may be holding a "timeout" response.
    block_on_close = False
    allow_reuse_address = True
    # The default listen backlog (5) drops connections when a forwarder batch of ten
    # connects at once; a dropped SYN is retried only after a second.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        *,
        api_key: str,
        bank: Bank,
        movements: MoneyMovements,
        store: Store,
        requests: RequestLog,
        faults: FaultInjector,
        dispatcher: CallbackDispatcher,
        stopping: threading.Event,
    ) -> None:
        self.api_key = api_key
        self.bank = bank
        self.movements = movements
        self.store = store
        self.requests = requests
        self.faults = faults
        self.dispatcher = dispatcher
        # Set on shutdown so handlers sleeping for latency or timeout faults wake at once.
        self.stopping = stopping
        super().__init__(address, SimulatorHandler)


Route = Callable[["SimulatorHandler", dict[str, str]], Answer]


class SimulatorHandler(BaseHTTPRequestHandler):
    """Routes one request to the bank or the test API and writes the JSON answer."""

    # HTTP/1.1 keep-alive lets the gateway's bank client reuse connections (bench figures).
    protocol_version = "HTTP/1.1"
    server_version = "BankSimulator/1.0"
    # An idle keep-alive connection is closed after this many seconds.
    timeout = 30
    # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed
    # ACK would add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: SimulatorServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        # Access lines go to debug: paths hold only payment ids, never card data.
        log.debug("%s %s", self.address_string(), format % args)

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        # The request-log entry of this request when it is a POST /payments (a keep-alive
        # connection serves several requests with one handler).
        self._post: PostEntry | None = None
        try:
            body = self._read_body()
            if body is None:
                return
            self._raw_body = body
            allowed: list[str] = []
            for route_method, pattern, route in ROUTES:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                if route_method != method:
                    allowed.append(route_method)
                    continue
                self._send(route(self, match.groupdict()))
                return
            if allowed:
                answer = Answer(
                    405,
                    error_body("method_not_allowed", f"{method} not allowed"),
                    headers={"Allow": ", ".join(allowed)},
                )
            else:
                answer = Answer(404, error_body("not_found", f"no route for {path}"))
            self._send(answer)
        except (BrokenPipeError, ConnectionResetError):
            # The client went away (typically a timeout fault): nothing left to answer.
            self.close_connection = True
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            self.close_connection = True
            failed = error_body("internal_error", "the simulator failed")
            self._send(Answer(500, failed))

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 400/413 for a bad length."""
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            bad_length = error_body("validation_error", "bad Content-Length")
            self._send(Answer(400, bad_length))
            return None
        if length > MAX_BODY_BYTES:
            # Not reading the body leaves the connection unusable, so close it.
            self.close_connection = True
            message = f"body over {MAX_BODY_BYTES} bytes"
            self._send(Answer(413, error_body("payload_too_large", message)))
            return None
        return self.rfile.read(length)

    def _json_body(self) -> tuple[Any, Answer | None]:
        """The parsed JSON body, or an error answer when it is not JSON."""
        try:
            return json.loads(self._raw_body or b"null"), None
        except (UnicodeDecodeError, json.JSONDecodeError):
            details = [{"field": "body", "message": "must be valid JSON"}]
            body = error_body("validation_error", "malformed JSON", details)
            return None, Answer(400, body)

    def _send(self, answer: Answer) -> None:
        if answer.hold_s > 0:
            # Timeout fault: the charge is made, but the answer comes too late for the client.
            self.server.stopping.wait(answer.hold_s)
        payload = json.dumps(answer.body, separators=(",", ":")).encode("utf-8")
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        finally:
            # Written (or the client already gone): either way this is when it was answered.
            if self._post is not None:
                self.server.requests.answered(self._post)
                self._post = None

    # -- bank API ------------------------------------------------------------------------

    def _authorised(self) -> Answer | None:
        """None when the bearer token is right, else the 401 answer."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        expected = self.server.api_key.encode("utf-8")
        given = token.strip().encode("utf-8")
        if scheme.lower() == "bearer" and hmac.compare_digest(given, expected):
            return None
        return Answer(
            401,
            error_body("unauthorized", "missing or invalid bank API key"),
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _inject_latency(self) -> None:
        latency_ms = self.server.faults.current.latency_ms
        if latency_ms:
            self.server.stopping.wait(latency_ms / 1000)

    def post_payment(self, _params: dict[str, str]) -> Answer:
        """POST /payments, logged in the request log whatever the answer."""
        return self._logged_post(
            "payment",
            self.server.bank.submit,
            lambda: self.server.store.count_post(valid=False),
        )

    def get_payment(self, params: dict[str, str]) -> Answer:
        """GET /payments/{id}."""
        return self._bank_get(lambda: self.server.bank.query(params["payment_id"]))

    def post_action(self, params: dict[str, str], action_type: str) -> Answer:
        """POST /payments/{id}/captures|voids|refunds, logged whatever the answer."""
        payment_id = params["payment_id"]

        def ids() -> dict[str, str | None]:
            payment = self.server.store.get(payment_id)
            return {
                "payment_request_id": payment_id,
                "merchant_id": payment.merchant_id if payment else None,
            }

        return self._logged_post(
            action_type,
            lambda body, key: self.server.movements.submit(payment_id, action_type, body, key),
            lambda: self.server.store.count_action_post(valid=False),
            ids,
        )

    def get_action(self, params: dict[str, str]) -> Answer:
        """GET /payments/{id}/actions/{action_id}."""
        return self._bank_get(
            lambda: self.server.movements.query(params["payment_id"], params["action_id"])
        )

    def _logged_post(
        self,
        kind: str,
        decide: Callable[[Any, str | None], Answer],
        count_invalid: Callable[[], None],
        ids: Callable[[], dict[str, str | None]] = dict,
    ) -> Answer:
        """A bank POST of `kind`: logged on arrival, authenticated, delayed by the latency
        fault, decided by `decide(body, key)`, and its answer logged."""
        key = self.headers.get("Idempotency-Key")
        self._post = self.server.requests.receive(key, kind)
        # Parsed before the auth check only so that a refused POST is logged under its ids.
        body, bad_json = self._json_body()
        denied = self._authorised()
        if denied:
            count_invalid()
            answer = denied
        else:
            self._inject_latency()
            if bad_json:
                count_invalid()
                answer = bad_json
            else:
                answer = decide(body, key)
        self.server.requests.decided(
            self._post,
            body,
            status=answer.status,
            outcome=answer.outcome,
            hold_s=answer.hold_s,
            answer_body=answer.body,
            **ids(),
        )
        return answer

    def _bank_get(self, query: Callable[[], Answer]) -> Answer:
        """A bank GET: authenticated, delayed by the latency fault, answered by `query`."""
        denied = self._authorised()
        if denied:
            return denied
        self._inject_latency()
        return query()

    # -- test API ------------------------------------------------------------------------

    def health(self, _params: dict[str, str]) -> Answer:
        """GET /health."""
        return Answer(200, {"ok": True})

    def sim_payments(self, _params: dict[str, str]) -> Answer:
        """GET /_sim/payments."""
        return Answer(200, {"payments": self.server.store.all_snapshots()})

    def sim_payment(self, params: dict[str, str]) -> Answer:
        """GET /_sim/payments/{id}."""
        snapshot = self.server.store.snapshot(params["payment_id"])
        if snapshot is None:
            return Answer(404, error_body("not_found", NOT_RECEIVED))
        return Answer(200, snapshot)

    def sim_action(self, params: dict[str, str]) -> Answer:
        """GET /_sim/actions/{action_id}."""
        snapshot = self.server.store.action_snapshot(params["action_id"])
        if snapshot is None:
            return Answer(404, error_body("not_found", ACTION_NOT_RECEIVED))
        return Answer(200, snapshot)

    def sim_stats(self, _params: dict[str, str]) -> Answer:
        """GET /_sim/stats."""
        return Answer(200, self.server.store.stats())

    def sim_requests(self, _params: dict[str, str]) -> Answer:
        """GET /_sim/requests?after=<seq>&limit=<n>&kind=<payment|capture|void|refund>."""
        query = parse_qs(urlsplit(self.path).query)
        after = query.get("after", ["0"])[-1]
        limit = query.get("limit", [""])[-1]
        kind = query.get("kind", [None])[-1]
        details = [
            {"field": name, "message": "must be a non-negative integer"}
            for name, value in (("after", after), ("limit", limit or "0"))
            if not value.isdigit()
        ]
        if kind is not None and kind not in KINDS:
            details.append({"field": "kind", "message": "must be one of " + ", ".join(KINDS)})
        if details:
            return Answer(400, error_body("validation_error", "invalid query", details))
        read = self.server.requests.read(int(after), int(limit) if limit else None, kind)
        return Answer(200, read)

    def sim_get_mode(self, _params: dict[str, str]) -> Answer:
        """GET /_sim/mode."""
        return Answer(200, self.server.faults.mode.to_json())

    def sim_put_mode(self, _params: dict[str, str]) -> Answer:
        """PUT /_sim/mode."""
        return self._replace_setting(parse_mode, self.server.faults.set_mode, "mode")

    def _replace_setting(
        self, parse: Callable[[Any], Any], apply: Callable[[Any], None], name: str
    ) -> Answer:
        """Parse a PUT body into a setting and apply it; 400 listing every bad field."""
        body, bad_json = self._json_body()
        if bad_json:
            return bad_json
        try:
            setting = parse(body)
        except FaultsValidationError as exc:
            return Answer(400, error_body("validation_error", str(exc), exc.details))
        apply(setting)
        log.info("%s set: %s", name, setting.to_json())
        return Answer(200, setting.to_json())

    def sim_get_faults(self, _params: dict[str, str]) -> Answer:
        """GET /_sim/faults."""
        return Answer(200, self.server.faults.current.to_json())

    def sim_put_faults(self, _params: dict[str, str]) -> Answer:
        """PUT /_sim/faults."""
        return self._replace_setting(parse_faults, self.server.faults.set, "faults")

    def sim_reset(self, _params: dict[str, str]) -> Answer:
        """POST /_sim/reset."""
        self.server.store.reset()
        self.server.requests.reset()
        self.server.faults.reset()
        cancelled = self.server.dispatcher.cancel_all()
        log.info(
            "reset: records, requests, faults and mode cleared, %d pending callback(s) cancelled",
            cancelled,
        )
        return Answer(200, {"reset": True, "callbacks_cancelled": cancelled})


ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    ("POST", re.compile(r"/payments"), SimulatorHandler.post_payment),
    ("GET", re.compile(rf"/payments/{_ID_SEGMENT}"), SimulatorHandler.get_payment),
    *(
        (
            "POST",
            re.compile(rf"/payments/{_ID_SEGMENT}/{segment}"),
            functools.partial(SimulatorHandler.post_action, action_type=action_type),
        )
        for segment, action_type in SEGMENTS.items()
    ),
    (
        "GET",
        re.compile(rf"/payments/{_ID_SEGMENT}/actions/{_ACTION_SEGMENT}"),
        SimulatorHandler.get_action,
    ),
    ("GET", re.compile(r"/health"), SimulatorHandler.health),
    ("GET", re.compile(r"/_sim/payments"), SimulatorHandler.sim_payments),
    ("GET", re.compile(rf"/_sim/payments/{_ID_SEGMENT}"), SimulatorHandler.sim_payment),
    ("GET", re.compile(rf"/_sim/actions/{_ACTION_SEGMENT}"), SimulatorHandler.sim_action),
    ("GET", re.compile(r"/_sim/stats"), SimulatorHandler.sim_stats),
    ("GET", re.compile(r"/_sim/requests"), SimulatorHandler.sim_requests),
    ("GET", re.compile(r"/_sim/mode"), SimulatorHandler.sim_get_mode),
    ("PUT", re.compile(r"/_sim/mode"), SimulatorHandler.sim_put_mode),
    ("GET", re.compile(r"/_sim/faults"), SimulatorHandler.sim_get_faults),
    ("PUT", re.compile(r"/_sim/faults"), SimulatorHandler.sim_put_faults),
    ("POST", re.compile(r"/_sim/reset"), SimulatorHandler.sim_reset),
]
