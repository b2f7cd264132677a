"""The `Gateway-Signature` header of a webhook delivery (SPEC §10).

`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, one `v1` per live secret
(two while a secret rotates), the key being the UTF-8 bytes of the whole `whsec_...` string.
The body is the exact bytes sent: it is signed as stored, never re-serialised.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value: `t=...` then one `v1=...` per secret, in the order given."""
    if not secrets:
        raise ValueError("a delivery is signed with at least one secret")
    parts = [f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)]
    return ",".join(parts)
