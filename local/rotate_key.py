"""`make rotate-key MERCHANT=<id> [GRACE_HOURS=24]`: issue a new API key for a merchant of
the running local stack and revoke its earlier keys after the grace period; prints
`{"merchant_id": ..., "api_key": ..., "earlier_keys": n, "earlier_keys_revoked_at": ...}`."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from uuid import UUID

from local.stack import LocalStack, Ports

DEFAULT_GRACE_HOURS = 24.0


def rotate_merchant_key(env: dict[str, str], merchant_id: str, grace: timedelta) -> dict[str, str]:
    """Rotate through the real use case and adapters, against `env`'s stack."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    from shared_kernel.bootstrap import build_gateway
    from shared_kernel.settings import Settings

    rotated = build_gateway(Settings.from_env(env)).rotate_merchant_key(UUID(merchant_id), grace)
    return {
        "merchant_id": str(rotated.merchant_id),
        "api_key": rotated.api_key,
        "earlier_keys": str(rotated.earlier_keys),
        "earlier_keys_revoked_at": rotated.earlier_keys_revoked_at.isoformat(),
    }


def main() -> None:
    """Rotate the key of the merchant named on the command line."""
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit("usage: make rotate-key MERCHANT=<merchant id> [GRACE_HOURS=24]")
    hours = float(os.environ.get("GRACE_HOURS") or DEFAULT_GRACE_HOURS)
    stack = LocalStack(Ports.from_env())
    try:
        print(
            json.dumps(
                rotate_merchant_key(stack.settings_env(), sys.argv[1], timedelta(hours=hours))
            )
        )
    except (LookupError, ValueError) as error:
        sys.exit(f"cannot rotate: {error}")


if __name__ == "__main__":
    main()
