"""Card value objects: the number and CVV (secrets), the expiry, and what may be shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_DIGITS = re.compile(r"[0-9]+")
_CVV = re.compile(r"[0-9]{3,4}")


def luhn_valid(digits: str) -> bool:
    """True when the string of digits passes the Luhn (mod 10) check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_number_error(number: object) -> str | None:
    """Say why `number` is not a valid card number, or None; never echoes the number."""
    if not isinstance(number, str) or not _DIGITS.fullmatch(number):
        return "must be a string of digits only"
    if not 12 <= len(number) <= 19:
        return "must be 12 to 19 digits long"
    if not luhn_valid(number):
        return "is not a valid card number (Luhn check failed)"
    return None


def cvv_error(cvv: object) -> str | None:
    """Say why `cvv` is not 3 or 4 digits, or None; never echoes the value."""
    if not isinstance(cvv, str) or not _CVV.fullmatch(cvv):
        return "must be 3 or 4 digits"
    return None


# (brand, prefix ranges) checked in order; ranges are inclusive and compared on the same
# number of leading digits. Good enough to label a card, not to route it.
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("amex", ((34, 34), (37, 37))),
    ("diners", ((300, 305), (36, 36), (38, 39))),
    ("discover", ((6011, 6011), (644, 649), (65, 65))),
    ("jcb", ((3528, 3589),)),
    ("unionpay", ((62, 62),)),
    ("maestro", ((5018, 5018), (5020, 5020), (5038, 5038), (6304, 6304), (6759, 6759))),
    ("mastercard", ((51, 55), (2221, 2720))),
    ("visa", ((4, 4),)),
)


def brand_of(number: str) -> str:
    """The card scheme a card number belongs to, from its leading digits."""
    for brand, ranges in _BRANDS:
        for low, high in ranges:
            width = len(str(low))
            if low <= int(number[:width]) <= high:
                return brand
    return "unknown"


@dataclass(frozen=True, slots=True)
class Expiry:
    """A card's expiry month; the card is valid through the last day of that month (UTC)."""

    month: int
    year: int

    def is_expired(self, today: date) -> bool:
        """True once `today` is past the last day of the expiry month."""
        return (today.year, today.month) > (self.year, self.month)


def expiry_errors(month: object, year: object, today: date) -> list[tuple[str, str]]:
    """Every problem with an expiry as (field, message) pairs; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    month_ok = isinstance(month, int) and not isinstance(month, bool) and 1 <= month <= 12
    year_ok = isinstance(year, int) and not isinstance(year, bool) and 1000 <= year <= 9999
    if not month_ok:
        problems.append(("expiry_month", "must be an integer from 1 to 12"))
    if not year_ok:
        problems.append(("expiry_year", "must be a four-digit year"))
    if month_ok and year_ok:
        assert isinstance(month, int) and isinstance(year, int)
        if Expiry(month, year).is_expired(today):
            problems.append(("expiry_year", "the card has expired"))
    return problems


class CardSecrets:
    """The full card number and CVV: exists only to be sealed, or sent to the bank.

    Its repr and str are masked so that a stray log line or traceback cannot leak it.
    """

    __slots__ = ("cvv", "number")

    def __init__(self, number: str, cvv: str) -> None:
        self.number = number
        self.cvv = cvv

    def __repr__(self) -> str:
        return f"CardSecrets(number='****{self.number[-4:]}', cvv='***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, CardSecrets) and self.number == other.number and self.cvv == other.cvv
        )

    def __hash__(self) -> int:
        return hash((self.number, self.cvv))


@dataclass(frozen=True, slots=True)
class CardSummary:
    """What the gateway keeps and shows of a card: never more than the last four digits."""

    last4: str
    brand: str
    expiry: Expiry

    @classmethod
    def of(cls, number: str, expiry: Expiry) -> CardSummary:
        """Summarise a (valid) card number and its expiry."""
        return cls(last4=number[-4:], brand=brand_of(number), expiry=expiry)


@dataclass(frozen=True, slots=True)
class SealedCard:
    """Card secrets encrypted by a CardCipher; opaque to the domain."""

    blob: bytes
