"""The AWS emulator: moto's server, with DynamoDB requests applied one at a time.

DynamoDB applies each request to an item atomically: of two conditional writes racing for
one item, exactly one can pass. moto's threaded server evaluates a condition and then
writes without a lock, so two racing `attribute_not_exists` PutItems can both pass — a
result real DynamoDB never gives, which would show up as a false double creation in the
concurrency battery. Serialising DynamoDB requests (only those: an SQS long poll must not
hold up the others) restores DynamoDB's guarantee; every other service is served as
`moto_server` serves it. DynamoDB Streams requests take the same lock: moto's GetRecords
reads the stream's record list while a write may be appending to it.

Usage: `python -m local.emulator -H 127.0.0.1 -p 4566` (the same flags as `moto_server`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

# One DynamoDB (or DynamoDB Streams) request at a time, across the server's threads.
_DYNAMODB = threading.Lock()
_SERIALISED = ("DynamoDB_", "DynamoDBStreams_")


def serialise_dynamodb(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: DynamoDB requests (`X-Amz-Target: DynamoDB_*`) and DynamoDB Streams
    requests (`DynamoDBStreams_*`: they read the list of stream records that DynamoDB writes
    append to) run under one lock, their whole answer produced inside it; others pass
    through."""

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_SERIALISED):
            return app(environ, start_response)
        with _DYNAMODB:
            return list(app(environ, start_response))

    return wrapped


def main(argv: list[str] | None = None) -> None:
    """Serve the emulator until SIGINT/SIGTERM."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=4566)
    args = parser.parse_args(argv)
    # moto writes its port into the URLs it returns (SQS queue URLs), as moto_server does.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    run_simple(
        args.host,
        args.port,
        serialise_dynamodb(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
