"""Money: an integer amount of a currency's minor units, never a float."""

from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 alphabetic codes the gateway accepts, with their number of minor-unit digits.
# Kept in step with the `currency` enum in contracts/common.schema.json (a test checks it).
MINOR_UNITS: dict[str, int] = {
    "GBP": 2,
    "EUR": 2,
    "USD": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "JPY": 0,
}
MIN_AMOUNT = 1
MAX_AMOUNT = 100_000_000


def currency_error(currency: object) -> str | None:
    """Say why `currency` is not a supported ISO 4217 code, or None when it is."""
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        return f"must be one of {', '.join(sorted(MINOR_UNITS))}"
    return None


def amount_error(amount: object) -> str | None:
    """Say why `amount` is not a valid number of minor units, or None when it is."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return "must be an integer number of minor units"
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        return f"must be between {MIN_AMOUNT} and {MAX_AMOUNT}"
    return None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (pence, cents) of a supported currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        problem = amount_error(self.amount) or currency_error(self.currency)
        if problem:
            raise ValueError(problem)
