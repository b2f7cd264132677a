"""`make reconcile`: one reconciler pass on the running local stack, printing its counts."""

from __future__ import annotations

import json
from dataclasses import asdict

from local.stack import LocalStack, Ports


def main() -> None:
    """Run the reconcile use case once, with the real adapters, against the local stack."""
    from shared_kernel.bootstrap import build_gateway
    from shared_kernel.settings import Settings

    stack = LocalStack(Ports.from_env())
    stack.queue_url = stack.discover_queue_url()
    env = stack.settings_env()
    stack.use_emulator()
    print(json.dumps(asdict(build_gateway(Settings.from_env(env)).reconcile())))


if __name__ == "__main__":
    main()
