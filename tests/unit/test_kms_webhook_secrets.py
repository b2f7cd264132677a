"""KmsSecretSealer against a recording stand-in for the KMS client: the encryption context
names the endpoint, opened secrets are cached by blob for a bounded time, and KMS's refusal
is a ValueError while other failures propagate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from botocore.exceptions import ClientError

from shared_kernel.adapters.kms_webhook_secrets import KmsSecretSealer

pytestmark = pytest.mark.unit

MERCHANT = UUID("2d6f7c8e-1a2b-4c3d-9e8f-0a1b2c3d4e5f")
ENDPOINT = UUID("5b0f3c1e-8a2d-4e6f-9c7b-1d2e3f4a5b6c")
SECRET = "whsec_" + "k" * 43


class RecordingKms:
    """Encrypts by prefixing the context (reversibly); refuses a Decrypt whose context is
    not the one sealed; `fail_with` makes Decrypt raise that error code instead."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.fail_with: str | None = None

    def encrypt(self, KeyId: str, Plaintext: bytes, EncryptionContext: dict[str, str]) -> Any:
        self.calls.append(("Encrypt", EncryptionContext))
        return {
            "CiphertextBlob": repr(sorted(EncryptionContext.items())).encode() + b"|" + Plaintext
        }

    def decrypt(self, CiphertextBlob: bytes, EncryptionContext: dict[str, str], KeyId: str) -> Any:
        self.calls.append(("Decrypt", EncryptionContext))
        context, _, plaintext = CiphertextBlob.partition(b"|")
        if self.fail_with or context != repr(sorted(EncryptionContext.items())).encode():
            code = self.fail_with or "InvalidCiphertextException"
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "Decrypt")
        return {"Plaintext": plaintext}


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sealer(kms: RecordingKms, clock: Clock) -> KmsSecretSealer:
    """The sealer under test, on the stand-in (typed as the real client by duck typing)."""
    client: Any = kms
    return KmsSecretSealer(client, "alias/webhook", stage="test", max_age_s=300, clock=clock)


def test_the_encryption_context_names_the_purpose_stage_merchant_and_endpoint() -> None:
    """Encrypt is asked with the endpoint's whole context."""
    kms = RecordingKms()

    sealer(kms, Clock()).seal(SECRET, MERCHANT, ENDPOINT)

    assert [
        (
            "Encrypt",
            {
                "purpose": "webhook-signing-secret",
                "stage": "test",
                "merchant_id": str(MERCHANT),
                "endpoint_id": str(ENDPOINT),
            },
        )
    ] == kms.calls


def test_an_opened_secret_is_cached_for_its_max_age_only() -> None:
    """Three opens within 300 s: one Decrypt; after 300 s, a second one."""
    kms, clock = RecordingKms(), Clock()
    secrets = sealer(kms, clock)
    blob = secrets.seal(SECRET, MERCHANT, ENDPOINT)

    opened = [secrets.open(blob, MERCHANT, ENDPOINT) for _ in range(3)]
    clock.now += 300
    opened.append(secrets.open(blob, MERCHANT, ENDPOINT))

    assert ([SECRET] * 4, 2) == (opened, [c[0] for c in kms.calls].count("Decrypt"))


def test_a_cached_secret_is_not_opened_for_another_endpoint() -> None:
    """A blob opened for its endpoint, then asked for another: KMS refuses, ValueError."""
    kms, clock = RecordingKms(), Clock()
    secrets = sealer(kms, clock)
    blob = secrets.seal(SECRET, MERCHANT, ENDPOINT)
    secrets.open(blob, MERCHANT, ENDPOINT)

    with pytest.raises(ValueError, match=r"^webhook secret cannot be opened$"):
        secrets.open(blob, MERCHANT, UUID(int=7, version=4))


def test_a_kms_outage_propagates_for_the_sender_to_retry() -> None:
    """Throttling is not "cannot be opened": the ClientError propagates unchanged."""
    kms, clock = RecordingKms(), Clock()
    secrets = sealer(kms, clock)
    blob = secrets.seal(SECRET, MERCHANT, ENDPOINT)
    kms.fail_with = "ThrottlingException"

    with pytest.raises(ClientError, match="ThrottlingException"):
        secrets.open(blob, MERCHANT, ENDPOINT)
