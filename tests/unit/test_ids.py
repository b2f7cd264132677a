"""parse_uuid: only the canonical 36-character spelling of a UUID names a payment."""

from __future__ import annotations

from uuid import UUID

import pytest

from shared_kernel.domain.ids import parse_uuid

pytestmark = pytest.mark.unit

CANONICAL = "3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a"


@pytest.mark.parametrize("value", [CANONICAL, CANONICAL.upper()])
def test_canonical_uuids_are_parsed(value: str) -> None:
    """The hyphenated 36-character form, in either case, is a UUID."""
    assert UUID(CANONICAL) == parse_uuid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not-a-uuid",
        CANONICAL.replace("-", ""),
        "{" + CANONICAL + "}",
        "urn:uuid:" + CANONICAL,
        CANONICAL[:-1] + "g",
        "3e0a9c1d5-b7f-4a2e-8c6d-9f0e1d2c3b4a",
        "----3e0a9c1d5b7f4a2e8c6d9f0e1d2c3b4a",
        " " + CANONICAL[1:],
        None,
        12345,
        UUID(CANONICAL),
    ],
)
def test_anything_else_is_not_a_uuid(value: object) -> None:
    """Other spellings, malformed strings and non-strings give None."""
    assert None is parse_uuid(value)
