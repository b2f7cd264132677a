"""Card rules: Luhn, number shape, brand, expiry through the month's last day, CVV, masking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from shared_kernel.domain.card import (
    CardSecrets,
    CardSummary,
    Expiry,
    brand_of,
    card_number_error,
    cvv_error,
    expiry_errors,
    luhn_valid,
)
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.payment import draft_payment

from .builders import TODAY, body

pytestmark = pytest.mark.unit

SPEC_TEST_CARDS = [
    "4242424242424242",
    "4000000000009995",
    "4100000000000019",
    "4000000000000002",
    "4000000000000119",
    "4000000000000101",
]


@pytest.mark.parametrize(
    "number",
    [*SPEC_TEST_CARDS, "5555555555554444", "378282246310005", "79927398713", "000000000000"],
)
def test_luhn_accepts_known_valid_numbers(number: str) -> None:
    """Known Luhn-valid numbers, every SPEC §5 test card among them, pass the check."""
    assert True is luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4242424242424241", "4000000000009990", "79927398710", "1234567812345678"]
)
def test_luhn_rejects_known_invalid_numbers(number: str) -> None:
    """Numbers with a wrong check digit fail the Luhn check."""
    assert False is luhn_valid(number)


@pytest.mark.parametrize("number", SPEC_TEST_CARDS)
def test_spec_test_cards_are_valid_card_numbers(number: str) -> None:
    """Every card of the simulator's table (SPEC §5) is a valid card number."""
    assert None is card_number_error(number)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("123456789015", None),  # 12 digits, the shortest allowed
        ("4000000000000000006", None),  # 19 digits, the longest allowed
        ("12345678903", "must be 12 to 19 digits long"),  # 11 digits, Luhn-valid
        ("40000000000000000006", "must be 12 to 19 digits long"),  # 20 digits, Luhn-valid
        ("", "must be a string of digits only"),
        ("4242 4242 4242 4242", "must be a string of digits only"),
        ("4242-4242-4242-4242", "must be a string of digits only"),
        ("424242424242424a", "must be a string of digits only"),
        ("4242424242424242\n", "must be a string of digits only"),
        ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "must be a string of digits only"),  # Arabic-Indic digits
        (4242424242424242, "must be a string of digits only"),
        (None, "must be a string of digits only"),
        ("4242424242424241", "is not a valid card number (Luhn check failed)"),
    ],
)
def test_card_number_shape_rules(number: object, expected: str | None) -> None:
    """A card number is a string of 12 to 19 ASCII digits passing the Luhn check."""
    assert expected == card_number_error(number)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4242424242424242", "visa"),
        ("4000000000000002", "visa"),
        ("5555555555554444", "mastercard"),
        ("5105105105105100", "mastercard"),
        ("2221000000000009", "mastercard"),
        ("2720990000000007", "mastercard"),
        ("378282246310005", "amex"),
        ("371449635398431", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("6500000000000002", "discover"),
        ("1234567812345670", "unknown"),
        ("9000000000000000", "unknown"),
        ("2220990000000000", "unknown"),  # just below the mastercard 2-series
        ("2721000000000000", "unknown"),  # just above it
    ],
)
def test_brand_is_detected_from_leading_digits(number: str, expected: str) -> None:
    """Visa, Mastercard (51-55 and 2221-2720), Amex, Discover; anything else is unknown."""
    assert expected == brand_of(number)


@pytest.mark.parametrize(
    ("today", "expired"),
    [
        (date(2030, 11, 30), False),
        (date(2030, 12, 1), False),
        (date(2030, 12, 31), False),
        (date(2031, 1, 1), True),
        (date(2032, 6, 15), True),
    ],
)
def test_card_is_valid_through_the_last_day_of_its_expiry_month(today: date, expired: bool) -> None:
    """A 12/2030 card is valid on 2030-12-31 and expired from 2031-01-01."""
    assert expired == Expiry(12, 2030).is_expired(today)


def test_expiry_in_a_mid_year_month_ends_with_that_month() -> None:
    """A 02/2028 card is valid on 2028-02-29 (leap day) and expired on 2028-03-01."""
    assert (False, True) == (
        Expiry(2, 2028).is_expired(date(2028, 2, 29)),
        Expiry(2, 2028).is_expired(date(2028, 3, 1)),
    )


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        (12, 2030, []),
        (1, 2027, []),
        (0, 2030, [("expiry_month", "must be an integer from 1 to 12")]),
        (13, 2030, [("expiry_month", "must be an integer from 1 to 12")]),
        ("12", 2030, [("expiry_month", "must be an integer from 1 to 12")]),
        (True, 2030, [("expiry_month", "must be an integer from 1 to 12")]),
        (12.0, 2030, [("expiry_month", "must be an integer from 1 to 12")]),
        (12, 30, [("expiry_year", "must be a four-digit year")]),
        (12, 10000, [("expiry_year", "must be a four-digit year")]),
        (12, "2030", [("expiry_year", "must be a four-digit year")]),
        (
            None,
            None,
            [
                ("expiry_month", "must be an integer from 1 to 12"),
                ("expiry_year", "must be a four-digit year"),
            ],
        ),
        (10, 2026, [("expiry_year", "the card has expired")]),
        (11, 2026, []),  # the current month is still valid
    ],
)
def test_expiry_errors(month: object, year: object, expected: list[tuple[str, str]]) -> None:
    """Month 1-12 and a four-digit year are checked separately; expiry uses today's date."""
    assert expected == expiry_errors(month, year, TODAY)


@pytest.mark.parametrize(
    ("cvv", "expected"),
    [
        ("123", None),
        ("1234", None),
        ("000", None),
        ("12", "must be 3 or 4 digits"),
        ("12345", "must be 3 or 4 digits"),
        ("12a", "must be 3 or 4 digits"),
        ("", "must be 3 or 4 digits"),
        (123, "must be 3 or 4 digits"),
        (None, "must be 3 or 4 digits"),
    ],
)
def test_cvv_is_three_or_four_digits(cvv: object, expected: str | None) -> None:
    """A CVV is a string of 3 or 4 digits."""
    assert expected == cvv_error(cvv)


@pytest.mark.parametrize("render", [repr, str, "{}".format, "{!r}".format])
def test_card_secrets_never_render_the_number_or_cvv(render: Callable[[object], str]) -> None:
    """repr, str and formatting of CardSecrets show neither the full number nor the CVV."""
    text = render(CardSecrets("4000000000009995", "738"))
    assert ("4000000000009995" not in text, "738" not in text) == (True, True)
    assert "9995" in text


def test_card_summary_keeps_only_last4_brand_and_expiry() -> None:
    """The summary of a card holds its last four digits, brand and expiry, nothing more."""
    expected = CardSummary(last4="4444", brand="mastercard", expiry=Expiry(3, 2029))
    assert expected == CardSummary.of("5555555555554444", Expiry(3, 2029))


@pytest.mark.parametrize(
    "number",
    ["4242424242424241", "42424242424", "42424242424242424242", "4242x42424242424"],
)
def test_validation_messages_never_contain_the_submitted_card_number(number: str) -> None:
    """Neither the error's message nor its details echo a rejected card number."""
    with pytest.raises(ValidationError) as caught:
        draft_payment(body(card_number=number, cvv="12"), TODAY)
    texts = [str(caught.value), *(d.message for d in caught.value.details)]
    assert [] == [t for t in texts if number in t]
