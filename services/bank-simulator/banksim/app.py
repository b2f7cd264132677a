"""Builds the simulator from settings, runs it, and shuts it down on SIGTERM/SIGINT."""

from __future__ import annotations

import functools
import logging
import signal
import socket
import sys
import threading
from types import FrameType

from banksim.bank import Bank
from banksim.callbacks import CallbackDispatcher
from banksim.config import ConfigError, Settings
from banksim.faults import FaultInjector
from banksim.http_api import SimulatorServer
from banksim.money_movements import MoneyMovements
from banksim.request_log import RequestLog
from banksim.store import Store

log = logging.getLogger("bank_simulator")


def build_server(settings: Settings, stopping: threading.Event) -> SimulatorServer:
    """A bound (not yet serving) server with its store, request log, faults and callback
    dispatcher."""
    store = Store()
    faults = FaultInjector()
    dispatcher = CallbackDispatcher(
        url=settings.callback_url,
        action_url=settings.action_callback_url,
        secret=settings.callback_secret,
        max_attempts=settings.callback_max_attempts,
        retry_base_s=settings.callback_retry_base_ms / 1000,
        on_result=lambda job, delivered: store.note_callback(
            job.payment_request_id, job.epoch, delivered=delivered, action_id=job.action_id
        ),
        is_live=lambda epoch: epoch == store.epoch,
    )
    delay_s = settings.callback_delay_ms / 1000
    bank = Bank(store=store, faults=faults, dispatcher=dispatcher, callback_delay_s=delay_s)
    movements = MoneyMovements(
        store=store, faults=faults, dispatcher=dispatcher, callback_delay_s=delay_s
    )
    if ":" in settings.host:
        # ThreadingHTTPServer is IPv4 by default; "::1" needs an IPv6 socket.
        SimulatorServer.address_family = socket.AF_INET6
    return SimulatorServer(
        (settings.host, settings.port),
        api_key=settings.api_key,
        bank=bank,
        movements=movements,
        store=store,
        requests=RequestLog(),
        faults=faults,
        dispatcher=dispatcher,
        stopping=stopping,
    )


def run(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT; return the process exit code."""
    stopping = threading.Event()
    try:
        server = build_server(settings, stopping)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc)
        return 1

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received, shutting down", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    server.dispatcher.start()
    # serve_forever runs on its own thread so the main thread stays free to receive signals;
    # server.shutdown() called from inside a signal handler on the serving thread would hang.
    serve = functools.partial(server.serve_forever, poll_interval=0.1)
    serving = threading.Thread(target=serve, name="http-server")
    serving.daemon = True
    serving.start()
    host, port = str(server.server_address[0]), int(server.server_address[1])
    log.info(
        "bank simulator listening on http://%s:%d, callbacks to %s and %s after %d ms",
        host,
        port,
        settings.callback_url,
        settings.action_callback_url,
        settings.callback_delay_ms,
    )
    # A plain line on stdout for runners that wait for readiness.
    print(f"bank simulator ready on http://{host}:{port}", flush=True)
    stopping.wait()

    server.shutdown()  # stop accepting; returns once serve_forever has left its loop
    server.server_close()
    server.dispatcher.stop()
    log.info("bank simulator stopped")
    return 0


def main() -> int:
    """Entry point: settings from the environment, logging to stderr, then run."""
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"bank simulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    return run(settings)
