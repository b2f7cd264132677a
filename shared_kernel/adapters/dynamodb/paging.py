"""The cursor paging of the merchants' lists (payments, SPEC §9; events, §10) on an index
whose range key is `<time>#<id>`: one Query a page, newest first.

A cursor is an entry's own range key: a page after it reads the keys up to it (BETWEEN is
inclusive, so one entry more is asked for and the cursor's own is skipped), a page before it
reads forwards from it and is turned round. One entry more than the page tells `has_more`.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import STRING
from pynamodb.expressions.condition import Condition

from shared_kernel.adapters.dynamodb.tables import Table

# Bounds of a `<time>#<id>` range key below and above every key.
LOWEST_KEY = "0"
HIGHEST_KEY = "~"


def page_entries(
    table: Table[Any],
    index: str,
    hash_key: str,
    range_key: Attribute[str],
    bounds: tuple[str, str],
    limit: int,
    *,
    after: str | None = None,
    before: str | None = None,
    filter_condition: Condition | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """The raw entries of one page under `hash_key` whose `range_key` lies within `bounds`
    (inclusive), newest first: at most `limit`, older than the key `after` or newer than the
    key `before` (at most one of the two); and whether more lie beyond the page."""
    lower, upper = bounds
    skipped = after if after is not None else before
    if after is not None:
        upper = min(upper, after)
    elif before is not None:
        lower = max(lower, before)
    if lower > upper:
        return [], False
    entries = table.query_index(
        index,
        hash_key,
        range_key.between(lower, upper),
        limit + 1 + (skipped is not None),
        descending=before is None,
        filter_condition=filter_condition,
    )
    kept = [entry for entry in entries if entry[range_key.attr_name][STRING] != skipped]
    page = kept[:limit]
    if before is not None:
        page.reverse()
    return page, len(kept) > limit
