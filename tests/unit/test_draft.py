"""draft_payment: every failing field at once, unknown properties, the optional reference
and capture method."""

from __future__ import annotations

import pytest

from shared_kernel.domain.card import CardSecrets, CardSummary, Expiry
from shared_kernel.domain.errors import FieldError, ValidationError
from shared_kernel.domain.money import Money
from shared_kernel.domain.payment import CaptureMethod, PaymentDraft, draft_errors, draft_payment

from .builders import SPEC_BODY, TODAY, body

pytestmark = pytest.mark.unit


def test_the_spec_example_body_is_accepted_and_summarised() -> None:
    """The SPEC's example submission becomes a draft showing last4 4242 and brand visa."""
    expected = PaymentDraft(
        secrets=CardSecrets("4242424242424242", "123"),
        summary=CardSummary(last4="4242", brand="visa", expiry=Expiry(12, 2030)),
        money=Money(1050, "GBP"),
        reference="order-1234",
    )
    assert expected == draft_payment(SPEC_BODY, TODAY)


def test_every_failing_field_is_reported_at_once_sorted_by_field() -> None:
    """A body with five bad fields yields five FieldErrors in field order."""
    bad = body(card_number="4242424242424241", cvv="1", amount=0, currency="XXX", expiry_month=13)
    with pytest.raises(ValidationError) as caught:
        draft_payment(bad, TODAY)
    expected = ["amount", "card_number", "currency", "cvv", "expiry_month"]
    assert expected == [d.field for d in caught.value.details]


def test_an_empty_body_reports_every_required_field() -> None:
    """Each missing required field is reported; the optional reference is not."""
    expected = ["amount", "card_number", "currency", "cvv", "expiry_month", "expiry_year"]
    assert expected == [e.field for e in draft_errors({}, TODAY)]


def test_unknown_properties_are_reported_each_by_name() -> None:
    """Properties outside the contract are each reported, with the other errors."""
    expected = [
        FieldError("amount", "must be an integer number of minor units"),
        FieldError("cardholder", "is not an accepted property"),
        FieldError("pin", "is not an accepted property"),
    ]
    assert expected == draft_errors(body(amount="10", pin="1234", cardholder="A"), TODAY)


def test_an_unknown_property_with_an_empty_name_is_named_property() -> None:
    """`{"": ...}`: reported as `<property>`, never as an empty field name (Schemathesis
    found the empty one against the error body's contract)."""
    errors = draft_errors({**body(), "": None}, TODAY)

    assert [FieldError("<property>", "is not an accepted property")] == errors


def test_an_expired_card_is_reported_on_expiry_year() -> None:
    """An expiry month before today's month is a validation error on expiry_year."""
    expected = [FieldError("expiry_year", "the card has expired")]
    assert expected == draft_errors(body(expiry_month=10, expiry_year=2026), TODAY)


def test_validation_error_message_lists_every_field() -> None:
    """The ValidationError's text names each failing field with its reason."""
    with pytest.raises(ValidationError) as caught:
        draft_payment(body(amount=0, currency="XXX"), TODAY)
    assert str(caught.value).startswith("amount: must be between 1 and 100000000; currency: ")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (body(reference="r"), "r"),
        (body(reference="x" * 64), "x" * 64),
        (body(reference=None), None),
        ({k: v for k, v in SPEC_BODY.items() if k != "reference"}, None),
    ],
)
def test_reference_is_optional(fields: dict[str, object], expected: str | None) -> None:
    """A reference of 1 to 64 characters is kept; an absent or null one becomes None."""
    assert expected == draft_payment(fields, TODAY).reference


@pytest.mark.parametrize("reference", ["", "x" * 65, 1234, ["order"]])
def test_invalid_reference_is_rejected(reference: object) -> None:
    """An empty, too long (65 characters) or non-string reference is a field error."""
    expected = [FieldError("reference", "must be a string of 1 to 64 characters, or null")]
    assert expected == draft_errors(body(reference=reference), TODAY)


def test_a_draft_repr_does_not_leak_the_card() -> None:
    """The draft's repr, which holds the secrets, shows neither full number nor CVV."""
    text = repr(draft_payment(body(cvv="987"), TODAY))
    assert (False, False) == ("4242424242424242" in text, "987" in text)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, CaptureMethod.AUTOMATIC),
        ({"capture_method": "automatic"}, CaptureMethod.AUTOMATIC),
        ({"capture_method": "manual"}, CaptureMethod.MANUAL),
    ],
)
def test_capture_method_is_optional_and_automatic_by_default(
    fields: dict[str, object], expected: CaptureMethod
) -> None:
    """capture_method may be left out (automatic) or be automatic or manual."""
    assert expected == draft_payment(body(**fields), TODAY).capture_method


@pytest.mark.parametrize("capture_method", ["MANUAL", "later", None, 1, ["manual"]])
def test_invalid_capture_method_is_rejected(capture_method: object) -> None:
    """Anything but automatic or manual (null included) is reported on capture_method."""
    assert [FieldError("capture_method", "must be one of automatic, manual")] == draft_errors(
        body(capture_method=capture_method), TODAY
    )
