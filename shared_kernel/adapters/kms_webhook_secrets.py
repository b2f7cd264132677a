"""SecretSealer with KMS: webhook signing secrets encrypted under their own key.

A secret is 49 bytes, well under KMS's 4 KiB limit, so it is encrypted by KMS directly (no
data key): one Encrypt when an endpoint is created or its secret rotated, one Decrypt when
the sender first needs it. The encryption context names the purpose, the stage, the
merchant and the endpoint, so a blob copied onto another endpoint does not decrypt, and a
key policy or IAM condition can require it. The merchant API's role may only Encrypt with
this key; only the sender's role may Decrypt (services/*/serverless.yml).

The sender keeps opened secrets in memory, by blob, for at most `max_age_s` (300 s) and
`max_cached` of them: a rotated-out secret's blob is no longer asked for, and deleting an
endpoint stops its deliveries before any cached secret is used again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

PURPOSE = "webhook-signing-secret"
MAX_AGE_S = 300.0
MAX_CACHED = 1000
_UNOPENABLE_CODES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_UNOPENABLE = "webhook secret cannot be opened"


class KmsSecretSealer:
    """Seals and opens webhook signing secrets under one KMS key (see module docstring)."""

    def __init__(
        self,
        client: KMSClient,
        key_id: str,
        stage: str,
        max_age_s: float = MAX_AGE_S,
        max_cached: int = MAX_CACHED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._key_id = key_id
        self._stage = stage
        self._max_age = max_age_s
        self._max_cached = max_cached
        self._clock = clock
        self._lock = threading.Lock()
        self._opened: OrderedDict[bytes, tuple[str, float]] = OrderedDict()

    def _context(self, merchant_id: UUID, endpoint_id: UUID) -> dict[str, str]:
        return {
            "purpose": PURPOSE,
            "stage": self._stage,
            "merchant_id": str(merchant_id),
            "endpoint_id": str(endpoint_id),
        }

    def seal(self, secret: str, merchant_id: UUID, endpoint_id: UUID) -> bytes:
        """KMS Encrypt of the secret under the endpoint's encryption context."""
        answer = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=secret.encode("utf-8"),
            EncryptionContext=self._context(merchant_id, endpoint_id),
        )
        return answer["CiphertextBlob"]

    def open(self, blob: bytes, merchant_id: UUID, endpoint_id: UUID) -> str:
        """The secret (cached, or KMS Decrypt under the endpoint's context); ValueError if
        the blob is not this endpoint's. Other KMS errors propagate (the sender retries)."""
        cache_key = blob + merchant_id.bytes + endpoint_id.bytes
        with self._lock:
            cached = self._opened.get(cache_key)
            if cached is not None and self._clock() < cached[1]:
                return cached[0]
        try:
            answer = self._client.decrypt(
                CiphertextBlob=blob,
                EncryptionContext=self._context(merchant_id, endpoint_id),
                KeyId=self._key_id,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _UNOPENABLE_CODES:
                raise ValueError(_UNOPENABLE) from None
            raise
        secret = answer["Plaintext"].decode("utf-8")
        with self._lock:
            self._opened[cache_key] = (secret, self._clock() + self._max_age)
            self._opened.move_to_end(cache_key)
            while len(self._opened) > self._max_cached:
                self._opened.popitem(last=False)
        return secret
