"""CardCipher with KMS envelope encryption: card secrets sealed at rest, bound to one payment.

Sealing asks KMS for a fresh AES-256 data key (GenerateDataKey) under the card key, with the
encryption context ``{"payment_id": ..., "merchant_id": ...}``, and encrypts the card number
and CVV with AES-256-GCM; the associated data binds the envelope's format byte and both ids,
so a blob copied onto another payment cannot be opened. Unsealing asks KMS to decrypt the
data key (Decrypt, same context) and then opens the ciphertext. The plaintext data key lives
only for the duration of one call.

Envelope format, version 1 (``SealedCard.blob``)::

    offset  size  field
    0       1     format version, 0x01
    1       2     N, length of the encrypted data key (unsigned, big-endian)
    3       N     the encrypted data key (KMS CiphertextBlob; names the KMS key)
    3+N     12    AES-GCM nonce (random)
    15+N    rest  AES-GCM ciphertext followed by its 16-byte tag

Associated data: the format byte, ``b"card-v1"``, then ``payment_id.bytes`` and
``merchant_id.bytes`` (16 bytes each).
Plaintext: ``b"<card number>:<cvv>"`` in ASCII (both are digits only).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from shared_kernel.domain.card import CardSecrets, SealedCard

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

FORMAT_V1 = 0x01
NONCE_LENGTH = 12
TAG_LENGTH = 16
_HEADER = struct.Struct(">BH")
_AAD_LABEL = b"card-v1"
_SEPARATOR = b":"
# KMS answers these when the ciphertext, the key or the encryption context do not match: the
# blob cannot be opened for this payment. Anything else (throttling, outage) is transient
# and propagates unchanged so that the caller retries.
_UNSEALABLE_CODES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_UNSEALABLE = "card data cannot be unsealed"


@dataclass(frozen=True, slots=True)
class DataKey:
    """A data key: plaintext (use and forget) and as encrypted by KMS (store it)."""

    plaintext: bytes
    encrypted: bytes

    def __repr__(self) -> str:
        return f"DataKey(encrypted=<{len(self.encrypted)} bytes>)"


class DataKeySource:
    """Data keys from KMS, one per seal: the seam where data-key caching will go."""

    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id

    def new_key(self, context: dict[str, str]) -> DataKey:
        """A fresh AES-256 data key bound to `context`."""
        answer = self._client.generate_data_key(
            KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=context
        )
        return DataKey(plaintext=answer["Plaintext"], encrypted=answer["CiphertextBlob"])

    def plaintext_of(self, encrypted: bytes, context: dict[str, str]) -> bytes:
        """The plaintext of a data key sealed with `context`; ValueError if it is not one."""
        try:
            answer = self._client.decrypt(
                CiphertextBlob=encrypted, EncryptionContext=context, KeyId=self._key_id
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _UNSEALABLE_CODES:
                raise ValueError(_UNSEALABLE) from None
            raise
        return answer["Plaintext"]


class KmsEnvelopeCipher:
    """Seals card secrets under a KMS key, one data key per payment (see module docstring)."""

    def __init__(
        self, client: KMSClient, key_id: str, data_keys: DataKeySource | None = None
    ) -> None:
        self._data_keys = data_keys or DataKeySource(client, key_id)

    def seal(self, secrets: CardSecrets, payment_id: UUID, merchant_id: UUID) -> SealedCard:
        """Encrypt the card number and CVV for this payment only."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = self._data_keys.new_key(_context(payment_id, merchant_id))
        if len(data_key.encrypted) > 0xFFFF:
            raise ValueError("encrypted data key too long for the envelope")
        nonce = os.urandom(NONCE_LENGTH)
        plaintext = secrets.number.encode("ascii") + _SEPARATOR + secrets.cvv.encode("ascii")
        ciphertext = AESGCM(data_key.plaintext).encrypt(
            nonce, plaintext, _associated_data(payment_id, merchant_id)
        )
        header = _HEADER.pack(FORMAT_V1, len(data_key.encrypted))
        return SealedCard(header + data_key.encrypted + nonce + ciphertext)

    def unseal(self, sealed: SealedCard, payment_id: UUID, merchant_id: UUID) -> CardSecrets:
        """Decrypt secrets sealed for this payment; ValueError for any other payment or a
        damaged blob (the message never includes secrets)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        encrypted_key, nonce, ciphertext = _split(sealed.blob)
        plaintext_key = self._data_keys.plaintext_of(
            encrypted_key, _context(payment_id, merchant_id)
        )
        try:
            plaintext = AESGCM(plaintext_key).decrypt(
                nonce, ciphertext, _associated_data(payment_id, merchant_id)
            )
        except (InvalidTag, ValueError):
            raise ValueError(_UNSEALABLE) from None
        number, separator, cvv = plaintext.partition(_SEPARATOR)
        if not separator:
            raise ValueError(_UNSEALABLE)
        return CardSecrets(number.decode("ascii"), cvv.decode("ascii"))


def _context(payment_id: UUID, merchant_id: UUID) -> dict[str, str]:
    return {"payment_id": str(payment_id), "merchant_id": str(merchant_id)}


def _associated_data(payment_id: UUID, merchant_id: UUID) -> bytes:
    return bytes([FORMAT_V1]) + _AAD_LABEL + payment_id.bytes + merchant_id.bytes


def _split(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """(encrypted data key, nonce, ciphertext and tag) of a v1 envelope; ValueError if not one."""
    if len(blob) < _HEADER.size:
        raise ValueError(_UNSEALABLE)
    version, key_length = _HEADER.unpack_from(blob)
    key_end = _HEADER.size + key_length
    nonce_end = key_end + NONCE_LENGTH
    if version != FORMAT_V1 or key_length == 0 or len(blob) < nonce_end + TAG_LENGTH:
        raise ValueError(_UNSEALABLE)
    return blob[_HEADER.size : key_end], blob[key_end:nonce_end], blob[nonce_end:]
