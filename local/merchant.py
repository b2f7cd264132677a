"""`make merchant NAME=<name>`: create a merchant on the running local stack and print
`{"merchant_id": ..., "api_key": ...}` on one line."""

from __future__ import annotations

import json
import sys

from local.stack import LocalStack, Ports


def main() -> None:
    """Register the merchant named on the command line."""
    name = " ".join(sys.argv[1:]).strip()
    if not name:
        sys.exit("usage: make merchant NAME=<name>")
    stack = LocalStack(Ports.from_env())
    print(json.dumps(stack.register_merchant(name)))


if __name__ == "__main__":
    main()
