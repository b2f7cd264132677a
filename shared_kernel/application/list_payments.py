"""Use case: one page of a merchant's payments (SPEC §9), its cursors resolved to list
positions."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from shared_kernel.application.ports import (
    ListPosition,
    PageQuery,
    PaymentFilters,
    PaymentPage,
    PaymentRepository,
)
from shared_kernel.domain.errors import FieldError, PaymentNotFound, ValidationError

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
        if cursor is None:
            return None
        try:
            payment = self.repository.get(cursor)
        except PaymentNotFound:
            payment = None
        if payment is None or payment.merchant_id != listing.merchant_id:
            # Unknown and foreign ids answer alike: the list reveals no other merchant's ids.
            raise ValidationError([FieldError(name, NOT_THIS_MERCHANTS)])
        return ListPosition.of(payment)
