"""The webhook endpoint routes' wire format: each proxy event becomes one checked request, with
every bad field named at once (the URL's rules included), and the answers' shapes."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest

from shared_kernel import contracts
from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.api.webhook_endpoints import (
    endpoint_creation,
    endpoint_list_response,
    endpoint_path,
    secret_rotation,
    with_secret_response,
)
from shared_kernel.application.webhook_endpoints import (
    EndpointCreation,
    EndpointWithSecret,
    SecretRotation,
)
from shared_kernel.application.webhook_ports import WebhookEndpoint
from shared_kernel.domain.errors import ValidationError
from shared_kernel.domain.webhook_endpoint import EVENT_TYPES, new_secret
from shared_kernel.domain.webhook_url import CheckedUrl, UnsafeUrl, check_webhook_url

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID
from .test_webhook_endpoints import NOW

pytestmark = pytest.mark.unit

ENDPOINT_ID = UUID("5b0f3c1e-8a2d-4e6f-9c7b-1d2e3f4a5b6c")
GOOD = {"url": "https://merchant.example/hook", "enabled_events": ["*"]}


def aws_rules(url: str) -> CheckedUrl:
    """The AWS stage's rules, merchant.example resolving to a public address."""
    return check_webhook_url(url, local_stage=False, resolve=lambda host, port: ["93.184.215.14"])


def event(
    body: object = GOOD,
    caller: object = MERCHANT_ID,
    endpoint_id: object = ENDPOINT_ID,
    **headers: str,
) -> dict[str, Any]:
    """A proxy event of `caller` on MERCHANT_ID's endpoint routes."""
    return {
        "pathParameters": {"merchant_id": str(MERCHANT_ID), "endpoint_id": str(endpoint_id)},
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(caller)}},
        "headers": {"Content-Type": "application/json", **headers},
        "body": None if body is None else json.dumps(body),
    }


def field_errors(raised: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    """The failing fields of a ValidationError and their messages."""
    return {e.field: e.message for e in raised.value.details}


def test_a_valid_post_is_one_creation() -> None:
    """URL, events and Idempotency-Key from one call."""
    created = endpoint_creation(event(**{"Idempotency-Key": "k-1"}), aws_rules)

    assert EndpointCreation(MERCHANT_ID, GOOD["url"], ("*",), "k-1") == created


def test_every_bad_field_is_named_at_once() -> None:
    """An unsafe URL, an unknown event type and a bad key: one 400 naming all three."""
    body = {"url": "https://10.0.0.1/hook", "enabled_events": ["payment.succeeded", "payment.x"]}

    with pytest.raises(ValidationError) as raised:
        endpoint_creation(event(body, **{"Idempotency-Key": "\u00e9"}), aws_rules)

    errors = field_errors(raised)
    assert ["enabled_events[1]", "url", "Idempotency-Key"] == list(errors)
    assert "10.0.0.1 is a private address" in errors["url"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({}, ["enabled_events", "url"], id="empty"),
        pytest.param({**GOOD, "url": 7}, ["url"], id="url-not-a-string"),
        pytest.param({**GOOD, "url": "ftp://merchant.example/"}, ["url"], id="ftp"),
        pytest.param({**GOOD, "url": "http://merchant.example/"}, ["url"], id="http"),
        pytest.param({**GOOD, "enabled_events": []}, ["enabled_events"], id="no-events"),
        pytest.param({**GOOD, "enabled_events": "*"}, ["enabled_events"], id="events-string"),
        pytest.param({**GOOD, "enabled_events": ["*", "*"]}, ["enabled_events"], id="repeated"),
        pytest.param({**GOOD, "secret": "whsec_mine"}, ["secret"], id="unknown-property"),
        pytest.param([GOOD], ["body"], id="not-an-object"),
    ],
)
def test_a_bad_body_names_its_fields(body: object, fields: list[str]) -> None:
    """Each bad body is a 400 naming exactly its bad fields."""
    with pytest.raises(ValidationError) as raised:
        endpoint_creation(event(body), aws_rules)

    assert fields == list(field_errors(raised))


def test_the_url_rules_are_asked_only_of_a_url_the_schema_accepts() -> None:
    """A URL the schema refuses is never resolved; a URL it accepts is checked once."""
    asked: list[str] = []

    def rules(url: str) -> CheckedUrl:
        asked.append(url)
        raise UnsafeUrl("refused")

    for url in ("ftp://x/", "https://merchant.example/"):
        with pytest.raises(ValidationError):
            endpoint_creation(event({**GOOD, "url": url}), rules)

    assert ["https://merchant.example/"] == asked


@pytest.mark.parametrize(
    ("parse", "status"),
    [
        pytest.param(lambda: endpoint_creation(event(caller=OTHER_MERCHANT_ID), aws_rules), 403),
        pytest.param(lambda: secret_rotation(event(caller=OTHER_MERCHANT_ID)), 403),
        pytest.param(lambda: endpoint_path(event(caller=OTHER_MERCHANT_ID)), 403),
        pytest.param(lambda: endpoint_path({**event(), "requestContext": {}}), 401),
        pytest.param(lambda: endpoint_path(event(endpoint_id="nope")), 400),
        pytest.param(
            lambda: endpoint_creation(event(**{"Content-Type": "text/plain"}), aws_rules), 415
        ),
    ],
)
def test_the_path_and_the_caller_are_checked_first(parse: Any, status: int) -> None:
    """Another merchant's key 403, none 401, a bad endpoint id 400, not JSON 415."""
    with pytest.raises(HttpError) as raised:
        parse()

    assert status == raised.value.status


@pytest.mark.parametrize(
    ("body", "hours"),
    [(None, 24), ({}, 24), ({"expires_in_hours": 0}, 0), ({"expires_in_hours": 168}, 168)],
)
def test_a_rotation_defaults_to_24_hours(body: object, hours: int) -> None:
    """No body or `{}` is 24 h; 0 and 168 are the bounds."""
    assert SecretRotation(MERCHANT_ID, ENDPOINT_ID, hours) == secret_rotation(event(body))


@pytest.mark.parametrize("hours", [-1, 169, 1.5, "24", True])
def test_a_rotation_outside_0_to_168_hours_is_refused(hours: object) -> None:
    """Anything but an integer from 0 to 168 is a 400 on `expires_in_hours`."""
    with pytest.raises(ValidationError) as raised:
        secret_rotation(event({"expires_in_hours": hours}))

    assert ["expires_in_hours"] == list(field_errors(raised))


def _endpoint() -> WebhookEndpoint:
    return WebhookEndpoint(ENDPOINT_ID, MERCHANT_ID, GOOD["url"], ("*",), NOW)


def test_the_created_answer_shows_the_secret_once_and_honours_its_contract() -> None:
    """201 with the secret (and no-store); a replay has no secret and says so; both bodies
    honour the contract."""
    secret = new_secret()
    first = with_secret_response(201, EndpointWithSecret(_endpoint(), secret))
    replay = with_secret_response(201, EndpointWithSecret(_endpoint(), None, replayed=True))
    first_body, replay_body = json.loads(first["body"]), json.loads(replay["body"])

    assert (secret, "no-store") == (first_body["secret"], first["headers"]["Cache-Control"])
    assert ("secret" in replay_body, "true") == (False, replay["headers"]["Idempotent-Replayed"])
    for body in (first_body, replay_body):
        contracts.assert_valid("webhook-endpoint-secret", body)


def test_the_list_answer_has_no_secret_and_honours_its_contract() -> None:
    """`{"data": [endpoint]}` with exactly the resource's fields."""
    body = json.loads(endpoint_list_response([_endpoint()])["body"])

    contracts.assert_valid("webhook-endpoint-list", body)
    assert {
        "data": [
            {
                "id": str(ENDPOINT_ID),
                "url": GOOD["url"],
                "enabled_events": ["*"],
                "status": "enabled",
                "created_at": "2026-11-26T10:00:00Z",
            }
        ]
    } == body


def test_the_contract_lists_exactly_the_domains_event_types() -> None:
    """enabled_events accepts `*` and every event type of the domain, nothing else."""
    schema = contracts.load_schema("common")["$defs"]["enabled_events"]

    assert ["*", *EVENT_TYPES] == schema["items"]["enum"]
