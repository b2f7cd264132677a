"""KmsEnvelopeCipher against KMS (moto server): card secrets sealed to one payment."""

from __future__ import annotations

import struct
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest
from botocore.exceptions import ClientError

from shared_kernel.adapters.kms import KmsEnvelopeCipher
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


def test_sealed_secrets_unseal_for_the_same_payment(cipher: KmsEnvelopeCipher) -> None:
    """seal then unseal with the same payment and merchant gives back number and CVV."""
    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    assert SECRETS == cipher.unseal(sealed, PAYMENT_ID, MERCHANT_ID)


def test_a_key_alias_works_as_the_key_id(aws_client: ClientFactory, card_key_id: str) -> None:
    """The composition root may pass an alias (alias/...) rather than a key id."""
    kms = aws_client("kms")
    alias = f"alias/{unique('card')}"
    kms.create_alias(AliasName=alias, TargetKeyId=card_key_id)
    cipher = KmsEnvelopeCipher(kms, alias)

    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    assert SECRETS == cipher.unseal(sealed, PAYMENT_ID, MERCHANT_ID)


def test_the_envelope_has_the_documented_v1_layout(cipher: KmsEnvelopeCipher) -> None:
    """Format byte 1, a 2-byte key length, the key, a 12-byte nonce, ciphertext and 16-byte tag."""
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    plaintext_length = len(b"4242424242424242:7319")
    assert 0x01 == blob[0]
    assert 3 + key_length(blob) + 12 + plaintext_length + 16 == len(blob)


def test_the_blob_holds_neither_card_number_nor_cvv(cipher: KmsEnvelopeCipher) -> None:
    """Neither the card number nor the CVV appears in the sealed bytes (nor their last four)."""
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    for secret in (b"4242424242424242", b"7319", b"42424242"):
        assert secret not in blob


def test_each_seal_uses_a_fresh_data_key_and_nonce(cipher: KmsEnvelopeCipher) -> None:
    """Sealing the same card twice gives different envelopes."""
    first = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob
    second = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    assert first != second


@pytest.mark.parametrize(
    ("payment_id", "merchant_id"),
    [
        pytest.param(uuid4(), MERCHANT_ID, id="other-payment"),
        pytest.param(PAYMENT_ID, uuid4(), id="other-merchant"),
    ],
)
def test_secrets_sealed_for_one_payment_cannot_be_unsealed_for_another(
    cipher: KmsEnvelopeCipher, payment_id: UUID, merchant_id: UUID
) -> None:
    """A blob copied onto another payment or merchant does not open."""
    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    with pytest.raises(ValueError, match=r"^card data cannot be unsealed$"):
        cipher.unseal(sealed, payment_id, merchant_id)


def test_the_data_key_is_bound_to_the_payment_by_the_kms_encryption_context(
    cipher: KmsEnvelopeCipher, aws_client: ClientFactory
) -> None:
    """KMS decrypts the stored data key only with this payment's encryption context."""
    kms = aws_client("kms")
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob
    encrypted_key = blob[3 : 3 + key_length(blob)]
    context = {"payment_id": str(PAYMENT_ID), "merchant_id": str(MERCHANT_ID)}

    plaintext = kms.decrypt(CiphertextBlob=encrypted_key, EncryptionContext=context)["Plaintext"]
    with pytest.raises(ClientError, match="InvalidCiphertextException"):
        kms.decrypt(
            CiphertextBlob=encrypted_key,
            EncryptionContext={**context, "payment_id": str(uuid4())},
        )

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
