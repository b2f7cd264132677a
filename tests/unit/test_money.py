"""Money: integer minor units between 1 and 100000000 of a supported ISO 4217 currency."""

from __future__ import annotations

import pytest

from shared_kernel.domain.money import (
    MAX_AMOUNT,
    MIN_AMOUNT,
    MINOR_UNITS,
    Money,
    amount_error,
    currency_error,
)

pytestmark = pytest.mark.unit


def test_amount_bounds_are_those_of_the_spec() -> None:
    """The smallest amount is 1 minor unit, the largest 100000000."""
    assert (1, 100_000_000) == (MIN_AMOUNT, MAX_AMOUNT)


@pytest.mark.parametrize("amount", [1, 2, 1050, 99_999_999, 100_000_000])
def test_amounts_within_bounds_are_accepted(amount: int) -> None:
    """Integers from 1 to 100000000 inclusive are valid amounts."""
    assert None is amount_error(amount)


@pytest.mark.parametrize("amount", [0, -1, 100_000_001, 10**20])
def test_amounts_out_of_bounds_are_rejected(amount: int) -> None:
    """0, negatives and anything above 100000000 are rejected."""
    assert "must be between 1 and 100000000" == amount_error(amount)


@pytest.mark.parametrize("amount", [10.5, 1050.0, True, False, "1050", None, [1050]])
def test_non_integer_amounts_are_rejected(amount: object) -> None:
    """Floats (even whole ones), booleans, strings and other types are not amounts."""
    assert "must be an integer number of minor units" == amount_error(amount)


@pytest.mark.parametrize("currency", ["GBP", "EUR", "USD"])
def test_the_required_currencies_are_supported(currency: str) -> None:
    """GBP, EUR and USD, which the SPEC requires, are supported."""
    assert None is currency_error(currency)


@pytest.mark.parametrize("currency", ["gbp", "XXX", "GB", "GBPX", "", None, 826])
def test_unsupported_currencies_are_rejected(currency: object) -> None:
    """Lowercase, unknown, malformed and non-string currency codes are rejected."""
    assert f"must be one of {', '.join(sorted(MINOR_UNITS))}" == currency_error(currency)


def test_every_supported_currency_is_a_three_letter_code() -> None:
    """Supported codes are three uppercase letters with 0 to 3 minor-unit digits."""
    odd = {
        c: d for c, d in MINOR_UNITS.items() if not (c.isalpha() and c.isupper() and len(c) == 3)
    }
    assert ({}, True) == (odd, all(0 <= d <= 3 for d in MINOR_UNITS.values()))


def test_money_holds_a_valid_amount_and_currency() -> None:
    """A Money value keeps its amount and currency as given."""
    money = Money(1050, "GBP")
    assert (1050, "GBP") == (money.amount, money.currency)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [(0, "GBP"), (100_000_001, "GBP"), (10.5, "GBP"), (True, "GBP"), (1, "XXX")],
)
def test_money_refuses_invalid_values(amount: object, currency: object) -> None:
    """Constructing Money with an invalid amount or currency raises ValueError."""
    with pytest.raises(ValueError, match="must be"):
        Money(amount, currency)  # type: ignore[arg-type]
