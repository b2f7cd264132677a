"""KmsEnvelopeCipher against KMS (moto server): the envelope, the data-key caches and rotation
(sealing to one payment, what the port promises, is in tests/port_contracts/test_card_cipher.py)."""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
from botocore.exceptions import ClientError

from shared_kernel.adapters.kms import (
    FORMAT_V1,
    CachedDataKeys,
    DataKeySource,
    KmsEnvelopeCipher,
)
from shared_kernel.domain.card import CardSecrets, SealedCard

from .conftest import ClientFactory, unique

pytestmark = pytest.mark.integration

# A four-digit CVV keeps a chance match of its bytes in random ciphertext negligible.
SECRETS = CardSecrets("4242424242424242", "7319")
PAYMENT_ID = UUID("3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a")
MERCHANT_ID = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")


@pytest.fixture
def cipher(aws_client: ClientFactory, card_key_id: str) -> KmsEnvelopeCipher:
    """A cipher under this test's fresh KMS key."""
    return KmsEnvelopeCipher(aws_client("kms"), card_key_id)


def key_length(blob: bytes) -> int:
    """The length of the encrypted data key in a v1 envelope."""
    length: int = struct.unpack_from(">H", blob, 1)[0]
    return length


def test_a_key_alias_works_as_the_key_id(aws_client: ClientFactory, card_key_id: str) -> None:
    """The composition root may pass an alias (alias/...) rather than a key id."""
    kms = aws_client("kms")
    alias = f"alias/{unique('card')}"
    kms.create_alias(AliasName=alias, TargetKeyId=card_key_id)
    cipher = KmsEnvelopeCipher(kms, alias)

    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    assert SECRETS == cipher.unseal(sealed, PAYMENT_ID, MERCHANT_ID)


def test_the_envelope_has_the_documented_v2_layout(cipher: KmsEnvelopeCipher) -> None:
    """Format byte 2, a 2-byte key length, the key, a 12-byte nonce, ciphertext and 16-byte tag."""
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    plaintext_length = len(b"4242424242424242:7319")
    assert 0x02 == blob[0]
    assert 3 + key_length(blob) + 12 + plaintext_length + 16 == len(blob)


def test_each_seal_uses_a_fresh_nonce(cipher: KmsEnvelopeCipher) -> None:
    """Sealing the same card twice (with the same cached data key) gives different envelopes."""
    first = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob
    second = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    assert first != second


def test_the_data_key_is_bound_to_its_purpose_by_the_kms_encryption_context(
    cipher: KmsEnvelopeCipher, aws_client: ClientFactory
) -> None:
    """KMS decrypts the stored data key only with the card-data purpose context of the stage
    (a cached key serves many payments; the payment is bound by the AES-GCM associated data)."""
    kms = aws_client("kms")
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob
    encrypted_key = blob[3 : 3 + key_length(blob)]
    context = {"purpose": "card-data", "stage": "local"}

    plaintext = kms.decrypt(CiphertextBlob=encrypted_key, EncryptionContext=context)["Plaintext"]
    with pytest.raises(ClientError, match="InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=encrypted_key, EncryptionContext={**context, "stage": "prod"})

    assert 32 == len(plaintext)


def _flip(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda b: _flip(b, 0), id="format-byte"),
        pytest.param(lambda b: _flip(b, 1), id="key-length"),
        pytest.param(lambda b: _flip(b, 3 + key_length(b) // 2), id="encrypted-key"),
        pytest.param(lambda b: _flip(b, 3 + key_length(b) + 5), id="nonce"),
        pytest.param(lambda b: _flip(b, 3 + key_length(b) + 12), id="ciphertext"),
        pytest.param(lambda b: _flip(b, len(b) - 1), id="tag"),
        pytest.param(lambda b: b[:-1], id="truncated"),
        pytest.param(lambda b: b + b"\x00", id="extended"),
        pytest.param(lambda b: b[:2], id="header-only"),
        pytest.param(lambda b: b"", id="empty"),
    ],
)
def test_a_tampered_blob_cannot_be_unsealed(
    cipher: KmsEnvelopeCipher, tamper: Callable[[bytes], bytes]
) -> None:
    """Any change to the envelope is detected: ValueError, with no secret in the message."""
    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    with pytest.raises(ValueError, match=r"^card data cannot be unsealed$"):
        cipher.unseal(SealedCard(tamper(sealed.blob)), PAYMENT_ID, MERCHANT_ID)


class CountingKms:
    """A KMS client that counts GenerateDataKey and Decrypt calls."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def generate_data_key(self, **kwargs: Any) -> Any:
        self.calls["GenerateDataKey"] += 1
        return self._client.generate_data_key(**kwargs)

    def decrypt(self, **kwargs: Any) -> Any:
        self.calls["Decrypt"] += 1
        return self._client.decrypt(**kwargs)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_cipher(
    aws_client: ClientFactory, key_id: str, **limits: Any
) -> tuple[KmsEnvelopeCipher, CountingKms]:
    """A cipher with its own caches over a counting client."""
    kms = CountingKms(aws_client("kms"))
    keys = CachedDataKeys(DataKeySource(kms, key_id), **limits)  # type: ignore[arg-type]
    return KmsEnvelopeCipher(kms, key_id, data_keys=keys), kms  # type: ignore[arg-type]


def test_steady_state_kms_calls_per_payment_are_at_most_five_hundredths(
    aws_client: ClientFactory, card_key_id: str
) -> None:
    """2000 payments sealed in one container and unsealed in another: at most 0.05 KMS
    calls per payment on each side (one data key per 1000 messages)."""
    sealer, sealing_kms = counting_cipher(aws_client, card_key_id)
    opener, opening_kms = counting_cipher(aws_client, card_key_id)
    ids = [(uuid4(), MERCHANT_ID) for _ in range(2000)]

    sealed = [sealer.seal(SECRETS, p, m) for p, m in ids]
    opened = [opener.unseal(blob, p, m) for blob, (p, m) in zip(sealed, ids, strict=True)]

    assert [SECRETS] * len(ids) == opened
    assert {"GenerateDataKey": 2} == dict(sealing_kms.calls)
    assert {"Decrypt": 2} == dict(opening_kms.calls)
    assert sum(sealing_kms.calls.values()) / len(ids) <= 0.05


def test_a_data_key_is_replaced_after_its_message_budget(
    aws_client: ClientFactory, card_key_id: str
) -> None:
    """max_messages=3: seals 1-3 share a data key, the 4th gets a new one."""
    cipher, kms = counting_cipher(aws_client, card_key_id, max_messages=3)

    blobs = [cipher.seal(SECRETS, uuid4(), MERCHANT_ID).blob for _ in range(4)]

    keys = [blob[3 : 3 + key_length(blob)] for blob in blobs]
    assert 2 == kms.calls["GenerateDataKey"]
    assert keys[0] == keys[1] == keys[2] != keys[3]


def test_a_data_key_is_replaced_and_forgotten_after_its_time_budget(
    aws_client: ClientFactory, card_key_id: str
) -> None:
    """After max_age_s the sealing key is replaced and a cached plaintext key is re-fetched."""
    clock = FakeClock()
    cipher, kms = counting_cipher(aws_client, card_key_id, max_age_s=300, clock=clock)
    first = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)
    cipher.unseal(first, PAYMENT_ID, MERCHANT_ID)  # served by the cache
    assert {"GenerateDataKey": 1} == dict(kms.calls)

    clock.now += 301
    cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)
    cipher.unseal(first, PAYMENT_ID, MERCHANT_ID)

    assert {"GenerateDataKey": 2, "Decrypt": 1} == dict(kms.calls)


def test_the_unsealing_cache_is_bounded_in_keys(
    aws_client: ClientFactory, card_key_id: str
) -> None:
    """With room for 2 plaintext keys, a third evicts the least recently used one."""
    sealers = [counting_cipher(aws_client, card_key_id)[0] for _ in range(3)]
    blobs = [s.seal(SECRETS, PAYMENT_ID, MERCHANT_ID) for s in sealers]
    opener, kms = counting_cipher(aws_client, card_key_id, max_cached_keys=2)

    for blob in (*blobs, blobs[0]):
        opener.unseal(blob, PAYMENT_ID, MERCHANT_ID)

    assert 4 == kms.calls["Decrypt"]


def test_items_sealed_before_a_key_rotation_still_unseal(
    aws_client: ClientFactory, card_key_id: str
) -> None:
    """RotateKeyOnDemand: earlier envelopes open (KMS keeps the earlier key material and each
    encrypted data key names its version); new ones are sealed and open too.

    moto records the rotation without new key material, so this shows the adapter pins no key
    version; that KMS keeps old material is AWS's documented behaviour."""
    kms = aws_client("kms")
    before = KmsEnvelopeCipher(kms, card_key_id).seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    kms.rotate_key_on_demand(KeyId=card_key_id)
    after_cipher = KmsEnvelopeCipher(kms, card_key_id)
    after = after_cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    assert 1 == len(kms.list_key_rotations(KeyId=card_key_id)["Rotations"])
    assert SECRETS == after_cipher.unseal(before, PAYMENT_ID, MERCHANT_ID)
    assert SECRETS == after_cipher.unseal(after, PAYMENT_ID, MERCHANT_ID)


def test_version_1_envelopes_still_unseal(aws_client: ClientFactory, card_key_id: str) -> None:
    """An item sealed before data-key caching (one data key per payment, the ids as KMS
    encryption context, format byte 1) is still opened."""
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    kms = aws_client("kms")
    context = {"payment_id": str(PAYMENT_ID), "merchant_id": str(MERCHANT_ID)}
    key = kms.generate_data_key(KeyId=card_key_id, KeySpec="AES_256", EncryptionContext=context)
    nonce = os.urandom(12)
    aad = bytes([FORMAT_V1]) + b"card-v1" + PAYMENT_ID.bytes + MERCHANT_ID.bytes
    ciphertext = AESGCM(key["Plaintext"]).encrypt(nonce, b"4242424242424242:7319", aad)
    encrypted = key["CiphertextBlob"]
    blob = struct.pack(">BH", FORMAT_V1, len(encrypted)) + encrypted + nonce + ciphertext

    assert SECRETS == KmsEnvelopeCipher(kms, card_key_id).unseal(
        SealedCard(blob), PAYMENT_ID, MERCHANT_ID
    )
