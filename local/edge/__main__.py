"""Command line of the edge proxy: `python -m local.edge --listen 3000 --upstream 3010
--serverless-yml services/merchant-api/serverless.yml` runs one in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from local.edge.gateway_responses import load_gateway_responses
from local.edge.proxy import LOCALHOST, EdgeProxy


def main(argv: list[str] | None = None) -> int:
    """Command line: run one edge proxy in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m local.edge", description=main.__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port to listen on")
    parser.add_argument("--upstream", type=int, required=True, help="serverless-offline's port")
    parser.add_argument("--serverless-yml", help="serverless.yml holding the gateway responses")
    parser.add_argument("--host", default=LOCALHOST, help="address to listen on")
    parser.add_argument("--upstream-timeout", type=float, default=60.0, help="seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if os.environ.get("EDGE_LOG") == "1" else logging.WARNING,
        format="edge %(levelname)s %(message)s",
    )
    responses = load_gateway_responses(args.serverless_yml) if args.serverless_yml else {}
    edge = EdgeProxy(
        args.listen,
        args.upstream,
        responses,
        host=args.host,
        upstream_timeout=args.upstream_timeout,
    )
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    edge.start()
    sys.stderr.write(
        f"edge: {edge.url} -> http://{args.host}:{args.upstream} "
        f"({len(responses)} gateway responses)\n"
    )
    try:
        stopped.wait()
    finally:
        edge.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
