"""The ``X-Bank-Signature`` header that authenticates bank callbacks (SPEC §4).

``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``: the timestamp is inside
the signed text so a captured callback cannot be replayed later with a fresh ``t``.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<raw body>"`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + raw_body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, raw_body: bytes, timestamp: int | None = None) -> str:
    """The full header value for ``raw_body``, signed now unless ``timestamp`` is given.

    The caller must send exactly ``raw_body``: the receiver verifies the bytes it got, so
    re-serialising the JSON after signing would break the signature.
    """
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, raw_body)}"
