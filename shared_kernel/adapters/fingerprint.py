"""CardFingerprinter: HMAC-SHA256 of the card number under a secret key (Secrets Manager).

A keyed hash, not a plain one: card numbers have so little entropy (a known BIN, a Luhn
digit) that an unkeyed SHA-256 is reversed by enumeration; without the key it cannot be
(PCI DSS 3.4.1: "keyed cryptographic hashes of the entire PAN"). The same card gives the
same fingerprint for the same key, so duplicates are found with no card number stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

# Versioned, so that a new key can be introduced beside the old one (fp1:..., fp2:...).
PREFIX = "fp1:"


class HmacCardFingerprinter:
    """Fingerprints card numbers with a key read (and cached) by `key`."""

    def __init__(self, key: Callable[[], str]) -> None:
        self._key = key

    def __call__(self, number: str) -> str:
        """`fp1:` + hex HMAC-SHA256(key, card number)."""
        digest = hmac.new(self._key().encode(), number.encode("ascii"), hashlib.sha256)
        return PREFIX + digest.hexdigest()
