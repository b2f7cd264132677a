"""Fixtures of the port contract tests: each test states a port's documented behaviour once
and runs twice, against the in-memory fake the unit tests use (tests/unit/fakes.py; marked
`unit`, needs nothing running) and against the AWS adapter on the integration suite's moto
server (marked `integration`), so a fake cannot drift from what the adapter does.

The integration suite's fixtures are imported here, not copied; an adapter half asks for
them (`request.getfixturevalue`) only when it runs, so the fake halves start no server.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures, found by pytest by name)
    Tables,
    _no_proxy_for_localhost,
    aws_client,
    aws_endpoint,
    card_key_id,
    dummy_aws_credentials,
    queue_url,
    queues,
    tables,
)

FAKE = "fake"
ADAPTER = "adapter"

# The two implementations of a port, each half with the one marker that fits it.
BOTH = [
    pytest.param(FAKE, marks=pytest.mark.unit, id=FAKE),
    pytest.param(ADAPTER, marks=pytest.mark.integration, id=ADAPTER),
]


def moto_tables(request: pytest.FixtureRequest) -> Tables:
    """This test's fresh tables on the moto server (an adapter half only)."""
    fresh: Tables = request.getfixturevalue("tables")
    return fresh


def moto_client(request: pytest.FixtureRequest, service: str) -> Any:
    """A boto3 client of `service` on the moto server (an adapter half only)."""
    return request.getfixturevalue("aws_client")(service)
