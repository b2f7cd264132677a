"""An event's deliveries and its resend (SPEC §10): the use cases on fakes, the requests
parsed from whole proxy events, the answers valid against their contracts, and the two
handlers end to end on fakes (their errors mapped to 404)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from merchant_api_handlers import list_deliveries, resend_event
from shared_kernel import contracts
from shared_kernel.adapters.apigateway import HttpError
from shared_kernel.api.event_deliveries import deliveries_response, resend_request
from shared_kernel.application.errors import EventNotFound
from shared_kernel.application.event_deliveries import ListDeliveries, ResendEvent
from shared_kernel.application.webhook_ports import DeliveryAttempt, EndpointDelivery
from shared_kernel.domain.errors import EndpointNotFound, ValidationError

from .test_forward_handler import CONTEXT
from .webhook_fakes import (
    MERCHANT,
    NOW,
    InMemoryDeliveryLog,
    InMemoryEventStore,
    InMemoryWebhookEndpoints,
    RecordingWebhookQueue,
    an_endpoint,
    an_event,
)

pytestmark = pytest.mark.unit

EVENT = an_event()
OTHER_MERCHANT = UUID("6f1c2b8e-6a4d-4f1e-9a51-0c1d2e3f4a5b")


@dataclass
class Wiring:
    """The two use cases on one set of fakes: EVENT stored, endpoints 1 (every type) and 2
    (refunds only) registered, two attempts of EVENT at endpoint 1 recorded."""

    events: InMemoryEventStore
    endpoints: InMemoryWebhookEndpoints
    queue: RecordingWebhookQueue
    log: InMemoryDeliveryLog

    @classmethod
    def made(cls) -> Wiring:
        """The wiring described above."""
        wiring = cls(
            InMemoryEventStore(EVENT),
            InMemoryWebhookEndpoints(),
            RecordingWebhookQueue(),
            InMemoryDeliveryLog(),
        )
        first = wiring.endpoints.add(an_endpoint(1))
        wiring.endpoints.add(an_endpoint(2, events=("refund.succeeded",)))
        for n in (2, 1):
            at = NOW + timedelta(minutes=n)
            wiring.log.record(DeliveryAttempt(EVENT.id, first.id, n, at, 503, None, 30))
        return wiring

    @property
    def list_deliveries(self) -> ListDeliveries:
        """Use case: list the attempts."""
        return ListDeliveries(self.events, self.log)

    @property
    def resend_event(self) -> ResendEvent:
        """Use case: resend."""
        return ResendEvent(self.events, self.endpoints, self.queue, self.log)


def request(
    method: str = "GET",
    body: str | None = None,
    caller: UUID = MERCHANT,
    event_id: str = str(EVENT.id),
) -> dict[str, Any]:
    """A proxy event on EVENT's deliveries or resend by `caller`."""
    return {
        "httpMethod": method,
        "pathParameters": {"merchant_id": str(MERCHANT), "event_id": event_id},
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(caller)}},
        "headers": {"Content-Type": "application/json"} if body is not None else {},
        "body": body,
    }


def test_the_attempts_are_listed_oldest_first() -> None:
    """Recorded newest first, listed oldest first."""
    attempts = Wiring.made().list_deliveries(MERCHANT, EVENT.id)

    assert [1, 2] == [a.attempt for a in attempts]


def test_another_merchants_event_has_no_deliveries_to_show() -> None:
    """EventNotFound (404), not an empty list: the event is not the caller's."""
    with pytest.raises(EventNotFound):
        Wiring.made().list_deliveries(OTHER_MERCHANT, EVENT.id)


def test_a_resend_to_one_endpoint_is_one_resend_message_numbered_after_the_attempts() -> None:
    """Endpoint 1 had two attempts: the resend is attempt 3, marked resend, undelayed."""
    wiring = Wiring.made()
    endpoint = an_endpoint(1).id

    queued_for = wiring.resend_event(MERCHANT, EVENT.id, endpoint)

    assert ([endpoint], [(EndpointDelivery(EVENT.id, MERCHANT, endpoint, 3, resend=True), 0)]) == (
        queued_for,
        wiring.queue.delivered,
    )


def test_a_resend_without_an_endpoint_goes_to_each_endpoint_that_wants_the_event() -> None:
    """Only endpoint 1 wants payment.succeeded; endpoint 2 (refunds) is left alone."""
    wiring = Wiring.made()

    assert [an_endpoint(1).id] == wiring.resend_event(MERCHANT, EVENT.id)


@pytest.mark.parametrize(
    ("merchant", "event_id", "endpoint_id", "error"),
    [
        (OTHER_MERCHANT, EVENT.id, None, EventNotFound),
        (MERCHANT, UUID(int=99, version=4), None, EventNotFound),
        (MERCHANT, EVENT.id, UUID(int=98, version=4), EndpointNotFound),
    ],
    ids=["another-merchants-event", "unknown-event", "unknown-endpoint"],
)
def test_a_resend_of_what_is_not_the_merchants_queues_nothing(
    merchant: UUID, event_id: UUID, endpoint_id: UUID | None, error: type[Exception]
) -> None:
    """Unknown or foreign events and endpoints raise their not-found error; nothing queued."""
    wiring = Wiring.made()

    with pytest.raises(error):
        wiring.resend_event(merchant, event_id, endpoint_id)
    assert [] == wiring.queue.delivered


@pytest.mark.parametrize(
    ("body", "expected"),
    [(None, None), ("{}", None), (f'{{"endpoint_id": "{an_endpoint(1).id}"}}', an_endpoint(1).id)],
    ids=["no-body", "empty-object", "endpoint"],
)
def test_a_resend_request_names_its_endpoint_or_none(
    body: str | None, expected: UUID | None
) -> None:
    """No body and {} mean every endpoint; endpoint_id names one."""
    assert (MERCHANT, EVENT.id, expected) == resend_request(request("POST", body))


@pytest.mark.parametrize(
    ("event", "status"),
    [
        pytest.param(request(event_id="nope"), 400, id="path"),
        pytest.param({**request(), "requestContext": {}}, 401, id="no-caller"),
        pytest.param(request(caller=OTHER_MERCHANT), 403, id="another-merchant"),
        pytest.param(
            {**request("POST", "{}"), "headers": {"Content-Type": "text/plain"}},
            415,
            id="media-type",
        ),
    ],
)
def test_the_path_the_caller_and_the_media_type_are_checked_first(
    event: dict[str, Any], status: int
) -> None:
    """A bad path is 400, no caller 401, another merchant's key 403, a body not JSON 415."""
    with pytest.raises(HttpError) as raised:
        resend_request(event)

    assert status == raised.value.status


def test_a_resend_body_breaking_its_contract_names_the_field() -> None:
    """An endpoint_id that is not a UUID and an unknown field: both reported."""
    with pytest.raises(ValidationError) as raised:
        resend_request(request("POST", '{"endpoint_id": "x", "url": "http://evil"}'))

    assert {"endpoint_id", "url"} == {d.field for d in raised.value.details}


def test_a_json_null_body_is_refused_as_not_an_object() -> None:
    """A body of `null` (as API Gateway passes it: the string) is 400 naming the body, not
    "every endpoint" (tests/e2e/test_webhook_sender.py checks the same through the edge)."""
    with pytest.raises(ValidationError) as caught:
        resend_request(request("POST", "null"))
    assert ["body"] == [d.field for d in caught.value.details]


def test_the_deliveries_answer_is_the_contract_shape() -> None:
    """200 {"data": [...]} valid against delivery-attempt-list, times in whole seconds."""
    attempts = [
        DeliveryAttempt(EVENT.id, an_endpoint(1).id, 1, NOW, None, "timeout", 10001),
        DeliveryAttempt(EVENT.id, an_endpoint(1).id, 2, NOW, 200, None, 5, resend=True),
    ]

    answer = deliveries_response(attempts)

    document = json.loads(answer["body"])
    assert (200, [], "2026-11-26T10:00:00Z") == (
        answer["statusCode"],
        contracts.validate("delivery-attempt-list", document),
        document["data"][0]["at"],
    )


def test_the_handlers_answer_200_202_and_404(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through both handlers on fakes: the list (200, 2 attempts), a resend (202, a valid
    resend-accepted body) and an unknown event (404 not_found)."""
    wiring = Wiring.made()
    monkeypatch.setattr(list_deliveries, "gateway", lambda: wiring)
    monkeypatch.setattr(resend_event, "gateway", lambda: wiring)

    listed = list_deliveries.handler(request(), CONTEXT)
    resent = resend_event.handler(request("POST"), CONTEXT)
    unknown = list_deliveries.handler(request(event_id=str(UUID(int=99, version=4))), CONTEXT)

    assert (
        (200, 2),
        (202, []),
        (404, "not_found"),
    ) == (
        (listed["statusCode"], len(json.loads(listed["body"])["data"])),
        (resent["statusCode"], contracts.validate("resend-accepted", json.loads(resent["body"]))),
        (unknown["statusCode"], json.loads(unknown["body"])["error"]["code"]),
    )
