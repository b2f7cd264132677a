"""Use cases: register a merchant with an API key, and resolve a key to its merchant."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from shared_kernel.application.ports import Clock, IdGenerator, MerchantDirectory

KEY_PREFIX = "gw_"
KEY_BYTES = 32  # 256 bits of randomness, above the 128 the SPEC asks for


def hash_api_key(pepper: bytes, api_key: str) -> str:
    """The keyed hash (HMAC-SHA256 with a secret pepper) under which a key is stored."""
    return hmac.new(pepper, api_key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class RegisteredMerchant:
    """A new merchant and its API key; the key is shown this once and never stored."""

    merchant_id: UUID
    api_key: str


@dataclass(frozen=True, slots=True)
class RegisterMerchant:
    """Create a merchant and its first API key."""

    directory: MerchantDirectory
    pepper: bytes
    clock: Clock
    new_id: IdGenerator

    def __call__(self, name: str) -> RegisteredMerchant:
        """Register `name`; returns the merchant id and the key in plain text, once."""
        merchant_id = self.new_id()
        api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        self.directory.add(merchant_id, name, hash_api_key(self.pepper, api_key), self.clock.now())
        return RegisteredMerchant(merchant_id, api_key)


@dataclass(frozen=True, slots=True)
class RotatedKey:
    """A merchant's new API key (shown this once) and when its earlier keys stop working."""

    merchant_id: UUID
    api_key: str
    earlier_keys: int
    earlier_keys_revoked_at: datetime


@dataclass(frozen=True, slots=True)
class RotateMerchantKey:
    """Issue a new API key and revoke the merchant's earlier keys after a grace period, in
    which both work (the merchant deploys the new key without downtime)."""

    directory: MerchantDirectory
    pepper: bytes
    clock: Clock

    def __call__(self, merchant_id: UUID, grace: timedelta) -> RotatedKey:
        """Rotate; raises LookupError for an unknown merchant, ValueError for a negative grace."""
        if grace < timedelta(0):
            raise ValueError("the grace period cannot be negative")
        now = self.clock.now()
        api_key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
        earlier = self.directory.rotate_key(
            merchant_id, hash_api_key(self.pepper, api_key), now, now + grace
        )
        return RotatedKey(merchant_id, api_key, earlier, now + grace)


@dataclass(frozen=True, slots=True)
class AuthenticateMerchant:
    """Resolve a bearer API key to the merchant that owns it."""

    directory: MerchantDirectory
    pepper: bytes

    def __call__(self, api_key: str) -> UUID | None:
        """The merchant id, or None for a missing, malformed or unknown key."""
        if not api_key.startswith(KEY_PREFIX) or len(api_key) > 200:
            return None
        return self.directory.merchant_for(hash_api_key(self.pepper, api_key))
