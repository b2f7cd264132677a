"""Merchant API keys: random, shown once, stored only as a keyed hash, resolved to a merchant."""

from __future__ import annotations

import re

import pytest

from shared_kernel.application.merchant_keys import (
    AuthenticateMerchant,
    RegisterMerchant,
    hash_api_key,
)

from .fakes import FixedClock, InMemoryMerchantDirectory, SequentialIds

pytestmark = pytest.mark.unit

PEPPER = b"unit-test-pepper"


@pytest.fixture
def register(
    directory: InMemoryMerchantDirectory, clock: FixedClock, ids: SequentialIds
) -> RegisterMerchant:
    """Registration against an empty directory."""
    return RegisterMerchant(directory, PEPPER, clock, ids)


@pytest.fixture
def authenticate(directory: InMemoryMerchantDirectory) -> AuthenticateMerchant:
    """Authentication against the same directory and pepper."""
    return AuthenticateMerchant(directory, PEPPER)


def test_key_has_the_prefix_and_at_least_128_bits_of_randomness(
    register: RegisterMerchant,
) -> None:
    """A key is gw_ followed by at least 22 URL-safe base64 characters (>= 128 bits)."""
    key = register("Acme").api_key
    match = re.fullmatch(r"gw_([A-Za-z0-9_-]+)", key)
    assert match is not None
    assert True is (len(match.group(1)) * 6 >= 128)


def test_keys_are_unique(register: RegisterMerchant) -> None:
    """Fifty registrations give fifty different keys."""
    assert 50 == len({register(f"m{i}").api_key for i in range(50)})


def test_only_the_keyed_hash_is_stored(
    register: RegisterMerchant, directory: InMemoryMerchantDirectory, clock: FixedClock
) -> None:
    """The directory gets the merchant, name, time and HMAC of the key; never the key."""
    registered = register("Acme")
    (entry,) = directory.entries
    assert (
        registered.merchant_id,
        "Acme",
        hash_api_key(PEPPER, registered.api_key),
        clock.now(),
    ) == (
        entry.merchant_id,
        entry.name,
        entry.key_hash,
        entry.created_at,
    )
    assert registered.api_key not in repr(directory.entries)
    assert registered.api_key[3:] not in entry.key_hash


def test_hash_is_hmac_sha256_hex() -> None:
    """The stored hash is 64 hex characters and depends on the pepper."""
    assert (True, False) == (
        bool(re.fullmatch(r"[0-9a-f]{64}", hash_api_key(PEPPER, "gw_x"))),
        hash_api_key(PEPPER, "gw_x") == hash_api_key(b"other", "gw_x"),
    )


def test_authenticate_resolves_the_right_merchant(
    register: RegisterMerchant, authenticate: AuthenticateMerchant
) -> None:
    """Each key resolves to the merchant it was issued to."""
    acme, globex = register("Acme"), register("Globex")
    assert (acme.merchant_id, globex.merchant_id) == (
        authenticate(acme.api_key),
        authenticate(globex.api_key),
    )


@pytest.mark.parametrize(
    "key", ["", "gw_", "gw_unknownkeyunknownkeyunknownkey", "sk_live_abc", "gw_" + "a" * 300]
)
def test_unknown_or_malformed_keys_resolve_to_nobody(
    register: RegisterMerchant, authenticate: AuthenticateMerchant, key: str
) -> None:
    """Empty, unknown, wrongly prefixed or overlong keys authenticate no merchant."""
    register("Acme")
    assert None is authenticate(key)


def test_a_key_without_its_prefix_does_not_authenticate(
    register: RegisterMerchant, authenticate: AuthenticateMerchant
) -> None:
    """The random part alone, or the key with different case, is not the key."""
    key = register("Acme").api_key
    assert (None, None) == (authenticate(key[3:]), authenticate(key.upper()))


def test_a_different_pepper_does_not_authenticate(
    register: RegisterMerchant, directory: InMemoryMerchantDirectory
) -> None:
    """The same key checked with another pepper resolves to nobody."""
    key = register("Acme").api_key
    assert None is AuthenticateMerchant(directory, b"another-pepper")(key)
