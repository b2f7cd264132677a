"""A merchant's webhook endpoints and their signing secrets (SPEC §10): the event types an
endpoint may subscribe to, the limits, how a secret is made, and which secrets are live.

A secret is `whsec_` then 32 random bytes in unpadded base64url. It is shown once, in the
answer that creates it, and stored only sealed (`SealedSecret`: encrypted under a KMS key
that only the sender may decrypt with). An endpoint has one current secret; rotating makes
a new current one and lets the previous one live on until `expires_in_hours` from now (0:
not at all), so that during the overlap each delivery carries a signature for both. At most
two are live at once: a rotation drops every older one still in its overlap.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from shared_kernel.domain.action import ActionType
from shared_kernel.domain.payment import PaymentStatus

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SECRET_BYTES = 32
MAX_ENDPOINTS_PER_MERCHANT = 16
MAX_ROTATION_OVERLAP_HOURS = 168
DEFAULT_ROTATION_OVERLAP_HOURS = 24
EVERY_EVENT = "*"
# Every event type a merchant can subscribe to: `payment.<status>` for each status but
# pending (the 201 says it), and `<action type>.<succeeded|failed>`.
EVENT_TYPES = tuple(
    [f"payment.{s.value}" for s in PaymentStatus if s is not PaymentStatus.PENDING]
    + [f"{a.value}.{result}" for a in ActionType for result in ("succeeded", "failed")]
)
ENDPOINT_STATUS = "enabled"


def new_secret(random_bytes: bytes | None = None) -> str:
    """A new signing secret: `whsec_` + base64url (no padding) of 32 random bytes."""
    raw = secrets.token_bytes(SECRET_BYTES) if random_bytes is None else random_bytes
    if len(raw) < SECRET_BYTES:
        raise ValueError(f"a secret needs at least {SECRET_BYTES} random bytes")
    return SECRET_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A signing secret as stored: encrypted (`blob`), the id of the request that made it
    (an endpoint's creation or a rotation, so a retried request finds its own), when it was
    made, and when it stops being live (None: the current secret)."""

    id: UUID
    blob: bytes
    created_at: datetime
    expires_at: datetime | None = None

    def live_at(self, now: datetime) -> bool:
        """Whether deliveries at `now` are signed with it."""
        return self.expires_at is None or now < self.expires_at

    def __repr__(self) -> str:
        return f"SealedSecret(id={self.id}, blob=<{len(self.blob)} bytes>)"


def live_secrets(stored: Sequence[SealedSecret], now: datetime) -> list[SealedSecret]:
    """The secrets deliveries at `now` are signed with, newest first, at most two."""
    live = [s for s in stored if s.live_at(now)]
    return sorted(live, key=lambda s: s.created_at, reverse=True)[:2]


def rotated(
    stored: Sequence[SealedSecret], new: SealedSecret, overlap: timedelta, now: datetime
) -> tuple[SealedSecret, ...]:
    """The secrets after a rotation at `now`: `new` current, the current one live until
    `now + overlap` (dropped when the overlap is zero), every other one dropped."""
    kept: list[SealedSecret] = [new]
    current = [s for s in stored if s.expires_at is None]
    if overlap > timedelta(0):
        kept += [replace(s, expires_at=now + overlap) for s in current]
    return tuple(kept)
