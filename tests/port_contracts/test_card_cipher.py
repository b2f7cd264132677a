"""CardCipher's contract, against ReversibleCipher and KmsEnvelopeCipher."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from shared_kernel.adapters.kms import KmsEnvelopeCipher
from shared_kernel.application.ports import CardCipher
from tests.integration.test_kms import MERCHANT_ID, PAYMENT_ID, SECRETS
from tests.unit.fakes import ReversibleCipher

from .conftest import BOTH, FAKE, moto_client


@pytest.fixture(params=BOTH)
def cipher(request: pytest.FixtureRequest) -> CardCipher:
    """The fake cipher, or the KMS one under this test's fresh key."""
    if request.param == FAKE:
        return ReversibleCipher()
    return KmsEnvelopeCipher(moto_client(request, "kms"), request.getfixturevalue("card_key_id"))


def test_sealed_secrets_unseal_for_the_same_payment(cipher: CardCipher) -> None:
    """seal then unseal with the same payment and merchant gives back number and CVV."""
    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    assert SECRETS == cipher.unseal(sealed, PAYMENT_ID, MERCHANT_ID)


def test_the_blob_holds_neither_card_number_nor_cvv(cipher: CardCipher) -> None:
    """Neither the card number nor the CVV appears in the sealed bytes."""
    blob = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID).blob

    assert [] == [s for s in (b"4242424242424242", b"7319", b"42424242") if s in blob]


@pytest.mark.parametrize(
    ("payment_id", "merchant_id"),
    [
        pytest.param(uuid4(), MERCHANT_ID, id="other-payment"),
        pytest.param(PAYMENT_ID, uuid4(), id="other-merchant"),
    ],
)
def test_secrets_sealed_for_one_payment_cannot_be_unsealed_for_another(
    cipher: CardCipher, payment_id: UUID, merchant_id: UUID
) -> None:
    """A blob copied onto another payment or merchant does not open (ValueError)."""
    sealed = cipher.seal(SECRETS, PAYMENT_ID, MERCHANT_ID)

    with pytest.raises(ValueError, match=r"^card data cannot be unsealed$"):
        cipher.unseal(sealed, payment_id, merchant_id)
