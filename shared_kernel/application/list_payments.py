"""Use case: one page of a merchant's payments (SPEC §9), its cursors resolved to list
positions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from uuid import UUID

from shared_kernel.application.ports import (
    ListPosition,
    PageQuery,
    PaymentFilters,
    PaymentPage,
    PaymentRepository,
)
from shared_kernel.domain.errors import FieldError, PaymentNotFound, ValidationError
from shared_kernel.domain.payment import PaymentRequest

T = TypeVar("T")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
NOT_THIS_MERCHANTS = "must be the id of one of this merchant's payments"


@dataclass(frozen=True, slots=True)
class PaymentListing:
    """A merchant's request for one page: its size, its filters and at most one cursor
    (a payment id: the page lies after it, or before it)."""

    merchant_id: UUID
    limit: int = DEFAULT_LIMIT
    filters: PaymentFilters = field(default_factory=PaymentFilters)
    starting_after: UUID | None = None
    ending_before: UUID | None = None


@dataclass(frozen=True, slots=True)
class ListPayments:
    """A cursor is the position of one of the merchant's own payments, wherever it now is:
    it need not match the filters (its place in the order never changes), but another
    merchant's payment or an unknown id is a validation error, never a position."""

    repository: PaymentRepository

    def __call__(self, listing: PaymentListing) -> PaymentPage:
        """The page; raises ValidationError naming a cursor that is not the merchant's."""
        return self.repository.page(
            PageQuery(
                merchant_id=listing.merchant_id,
                limit=listing.limit,
                filters=listing.filters,
                after=self._position(listing, "starting_after", listing.starting_after),
                before=self._position(listing, "ending_before", listing.ending_before),
            )
        )

    def _position(
        self, listing: PaymentListing, name: str, cursor: UUID | None
    ) -> ListPosition | None:
        payment = cursor_target(name, cursor, self._merchants_payment(listing.merchant_id))
        return None if payment is None else ListPosition.of(payment)

    def _merchants_payment(self, merchant_id: UUID) -> Callable[[UUID], PaymentRequest | None]:
        def find(payment_id: UUID) -> PaymentRequest | None:
            try:
                payment = self.repository.get(payment_id)
            except PaymentNotFound:
                return None
            return payment if payment.merchant_id == merchant_id else None

        return find


def cursor_target(
    name: str,
    cursor: UUID | None,
    find: Callable[[UUID], T | None],
    message: str = NOT_THIS_MERCHANTS,
) -> T | None:
    """What the cursor parameter `name` names (None when not given), found by `find` among
    the merchant's own; ValidationError naming `name` when `find` finds nothing."""
    if cursor is None:
        return None
    target = find(cursor)
    if target is None:
        # Unknown and foreign ids answer alike: the list reveals no other merchant's ids.
        raise ValidationError([FieldError(name, message)])
    return target
