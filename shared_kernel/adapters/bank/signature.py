"""The bank's callback signature: `X-Bank-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
over `"<t>.<raw body>"`, checked in constant time against every secret in force."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value the bank sends for `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def _parse(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float,
    tolerance: int = TOLERANCE_S,
) -> bool:
    """True when the header signs `body` with one of `secrets` within `tolerance` of `now`."""
    parsed = _parse(header) if header else None
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs(now - timestamp) > tolerance:
        return False
    valid = False
    for secret in secrets:
        expected = sign(secret, timestamp, body).partition(",v1=")[2]
        for candidate in signatures:
            # Compare every pair (no early exit) so timing says nothing about which matched.
            valid |= hmac.compare_digest(expected, candidate)
    return valid
