"""CardCipher with KMS envelope encryption: card secrets sealed at rest, bound to one payment,
with data-key caching so that KMS is called about once per thousand payments, not per payment.

Sealing encrypts the card number and CVV with AES-256-GCM under a data key from KMS
(GenerateDataKey under the card key). The associated data binds the envelope's format byte
and the payment and merchant ids, so a blob copied onto another payment cannot be opened.

Data-key caching (PCI DSS 3.5.1, 3.6: keys used for a bounded time and volume). A sealing
container reuses one data key for at most `max_messages` seals (1000) and `max_age_s`
seconds (900), then asks KMS for a new one; an unsealing container keeps plaintext data
keys by their encrypted bytes, at most `max_cached_keys` of them, each for `max_age_s`. A
cached key serves many payments, so its KMS encryption context cannot name one payment: it
is the purpose context ``{"purpose": "card-data", "stage": <stage>}`` (in CloudTrail, and a
key-policy condition can require it), while the per-payment binding is the AES-GCM
associated data of each message. Random 96-bit nonces under one key stay far below the
2**32 messages NIST SP 800-38D allows.

Envelope format, version 2 (written; version 1, one data key per payment with the ids as
encryption context, is still read)::

    offset  size  field
    0       1     format version, 0x02 (0x01)
    1       2     N, length of the encrypted data key (unsigned, big-endian)
    3       N     the encrypted data key (KMS CiphertextBlob; names the KMS key and version)
    3+N     12    AES-GCM nonce (random)
    15+N    rest  AES-GCM ciphertext followed by its 16-byte tag

Associated data: the format byte, ``b"card-v2"`` (``b"card-v1"``), then ``payment_id.bytes``
and ``merchant_id.bytes`` (16 bytes each).
Plaintext: ``b"<card number>:<cvv>"`` in ASCII (both are digits only).

Key rotation: KMS keeps every earlier backing key of a rotated key and each encrypted data
key names the version it was made under, so items sealed before a rotation stay openable.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

from shared_kernel.domain.card import CardSecrets, SealedCard

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

FORMAT_V1 = 0x01
FORMAT_V2 = 0x02
NONCE_LENGTH = 12
TAG_LENGTH = 16
PURPOSE = "card-data"
MAX_KEY_AGE_S = 900.0
MAX_MESSAGES_PER_KEY = 1000
MAX_CACHED_KEYS = 1000
_HEADER = struct.Struct(">BH")
_AAD_LABELS = {FORMAT_V1: b"card-v1", FORMAT_V2: b"card-v2"}
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
    """Data keys from KMS: GenerateDataKey and Decrypt, uncached."""

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


class CachedDataKeys:
    """A DataKeySource with the bounded caches of the module docstring (thread-safe)."""

    def __init__(
        self,
        source: DataKeySource,
        max_age_s: float = MAX_KEY_AGE_S,
        max_messages: int = MAX_MESSAGES_PER_KEY,
        max_cached_keys: int = MAX_CACHED_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._max_age = max_age_s
        self._max_messages = max_messages
        self._max_cached = max_cached_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._sealing: tuple[DataKey, float, int] | None = None  # key, expires at, uses left
        self._opened: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    def key_for_sealing(self, context: dict[str, str]) -> DataKey:
        """The current sealing key, or a new one once it is too old or used up."""
        with self._lock:
            now = self._clock()
            if self._sealing is not None:
                key, expires, uses_left = self._sealing
                if now < expires and uses_left > 0:
                    self._sealing = (key, expires, uses_left - 1)
                    return key
            key = self._source.new_key(context)
            self._sealing = (key, now + self._max_age, self._max_messages - 1)
            self._remember(key.encrypted, key.plaintext, now)
            return key

    def plaintext_of(self, encrypted: bytes, context: dict[str, str]) -> bytes:
        """The plaintext of an encrypted data key, from the cache or from KMS."""
        with self._lock:
            cached = self._opened.get(encrypted)
            if cached is not None and self._clock() < cached[1]:
                self._opened.move_to_end(encrypted)
                return cached[0]
        plaintext = self._source.plaintext_of(encrypted, context)
        with self._lock:
            self._remember(encrypted, plaintext, self._clock())
        return plaintext

    def _remember(self, encrypted: bytes, plaintext: bytes, now: float) -> None:
        self._opened[encrypted] = (plaintext, now + self._max_age)
        self._opened.move_to_end(encrypted)
        while len(self._opened) > self._max_cached:
            self._opened.popitem(last=False)


class KmsEnvelopeCipher:
    """Seals card secrets under a KMS key with cached data keys (see module docstring)."""

    def __init__(
        self,
        client: KMSClient,
        key_id: str,
        stage: str = "local",
        data_keys: CachedDataKeys | None = None,
    ) -> None:
        self._source = DataKeySource(client, key_id)
        self._data_keys = data_keys or CachedDataKeys(self._source)
        self._context = {"purpose": PURPOSE, "stage": stage}

    def seal(self, secrets: CardSecrets, payment_id: UUID, merchant_id: UUID) -> SealedCard:
        """Encrypt the card number and CVV for this payment only."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = self._data_keys.key_for_sealing(self._context)
        if len(data_key.encrypted) > 0xFFFF:
            raise ValueError("encrypted data key too long for the envelope")
        nonce = os.urandom(NONCE_LENGTH)
        plaintext = secrets.number.encode("ascii") + _SEPARATOR + secrets.cvv.encode("ascii")
        ciphertext = AESGCM(data_key.plaintext).encrypt(
            nonce, plaintext, _associated_data(FORMAT_V2, payment_id, merchant_id)
        )
        header = _HEADER.pack(FORMAT_V2, len(data_key.encrypted))
        return SealedCard(header + data_key.encrypted + nonce + ciphertext)

    def unseal(self, sealed: SealedCard, payment_id: UUID, merchant_id: UUID) -> CardSecrets:
        """Decrypt secrets sealed for this payment; ValueError for any other payment or a
        damaged blob (the message never includes secrets)."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, encrypted_key, nonce, ciphertext = _split(sealed.blob)
        if version == FORMAT_V1:
            plaintext_key = self._source.plaintext_of(
                encrypted_key, _payment_context(payment_id, merchant_id)
            )
        else:
            plaintext_key = self._data_keys.plaintext_of(encrypted_key, self._context)
        try:
            plaintext = AESGCM(plaintext_key).decrypt(
                nonce, ciphertext, _associated_data(version, payment_id, merchant_id)
            )
        except (InvalidTag, ValueError):
            raise ValueError(_UNSEALABLE) from None
        number, separator, cvv = plaintext.partition(_SEPARATOR)
        if not separator:
            raise ValueError(_UNSEALABLE)
        return CardSecrets(number.decode("ascii"), cvv.decode("ascii"))


def _payment_context(payment_id: UUID, merchant_id: UUID) -> dict[str, str]:
    # Version 1 only: one data key per payment, named in its encryption context.
    return {"payment_id": str(payment_id), "merchant_id": str(merchant_id)}


def _associated_data(version: int, payment_id: UUID, merchant_id: UUID) -> bytes:
    return bytes([version]) + _AAD_LABELS[version] + payment_id.bytes + merchant_id.bytes


def _split(blob: bytes) -> tuple[int, bytes, bytes, bytes]:
    """(version, encrypted data key, nonce, ciphertext and tag) of an envelope; ValueError
    if it is not one."""
    if len(blob) < _HEADER.size:
        raise ValueError(_UNSEALABLE)
    version, key_length = _HEADER.unpack_from(blob)
    key_end = _HEADER.size + key_length
    nonce_end = key_end + NONCE_LENGTH
    if version not in _AAD_LABELS or key_length == 0 or len(blob) < nonce_end + TAG_LENGTH:
        raise ValueError(_UNSEALABLE)
    return version, blob[_HEADER.size : key_end], blob[key_end:nonce_end], blob[nonce_end:]
