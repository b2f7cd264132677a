"""The action routes' wire format, handler to fakes: 202 with the action and its Location,
replays, every bad field named at once, each refusal's 409 code, 404s, the reads."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from merchant_api_handlers import get_action, list_actions, request_action
from shared_kernel import contracts
from shared_kernel.api.merchant import method_not_allowed
from shared_kernel.application.get_action import GetAction, ListActions
from shared_kernel.domain.money_movements import settle_action

from .builders import MERCHANT_ID, OTHER_MERCHANT_ID, PAYMENT_ID, pending_payment
from .fakes import ReversibleCipher
from .test_request_action import Wiring, authorized, succeeded

pytestmark = pytest.mark.unit

CONTEXT = SimpleNamespace(
    function_name="request_action",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:request_action",
    aws_request_id="req-1",
)
BASE = f"/merchant/{MERCHANT_ID}/payment/{PAYMENT_ID}"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Wiring:
    """The use cases on fakes, as every handler's `gateway()`."""
    wiring = Wiring()
    gateway = SimpleNamespace(
        request_capture=wiring.capture,
        request_void=wiring.void,
        request_refund=wiring.refund,
        get_action=GetAction(wiring.repository),
        list_actions=ListActions(wiring.repository),
    )
    for module in (request_action, get_action, list_actions):
        monkeypatch.setattr(module, "gateway", lambda: gateway)
    return wiring


def event(
    body: object = None, caller: UUID = MERCHANT_ID, action_id: str | None = None, **headers: str
) -> dict[str, Any]:
    """A request to PAYMENT_ID's routes by `caller`: a JSON body if given, extra headers."""
    params = {"merchant_id": str(MERCHANT_ID), "payment_id": str(PAYMENT_ID)}
    if action_id is not None:
        params["action_id"] = action_id
    return {
        "pathParameters": params,
        "requestContext": {"requestId": "r-1", "authorizer": {"merchant_id": str(caller)}},
        "headers": {"Content-Type": "application/json", **headers},
        "body": None if body is None else json.dumps(body),
    }


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    """(status, parsed body)."""
    return response["statusCode"], json.loads(response["body"])


def test_a_capture_is_202_with_the_pending_action_and_its_location(app: Wiring) -> None:
    """202, an action resource the contract accepts (pending capture of 800), and Location
    naming it."""
    authorized(app)

    response = request_action.capture(event({"amount": 800}), CONTEXT)

    status, body = answer(response)
    assert (202, [], "capture", "pending", 800) == (
        status,
        contracts.validate("action-resource", body),
        body["type"],
        body["status"],
        body["amount"],
    )
    assert f"{BASE}/actions/{body['id']}" == response["headers"]["Location"]
    assert "Idempotent-Replayed" not in response["headers"]


def test_a_replay_answers_the_action_as_accepted_even_once_it_ended(app: Wiring) -> None:
    """With a key, a repeat after the refund succeeded still answers the first 202 (pending),
    marked Idempotent-Replayed; the action's own read shows it succeeded."""
    succeeded(app)
    first = request_action.refund(event({}, **{"Idempotency-Key": "k-1"}), CONTEXT)
    action_id = UUID(json.loads(first["body"])["id"])
    payment = app.repository.get(PAYMENT_ID)
    action = app.repository.get_action(PAYMENT_ID, action_id)
    settle_action(payment, action, True, app.clock.now() + timedelta(seconds=5))
    app.repository.save(payment, [action])

    again = request_action.refund(event({}, **{"Idempotency-Key": "k-1"}), CONTEXT)
    read = get_action.handler(event(action_id=str(action_id)), CONTEXT)

    assert (first["body"], "true") == (again["body"], again["headers"]["Idempotent-Replayed"])
    assert (200, "succeeded") == (read["statusCode"], json.loads(read["body"])["status"])


def test_every_bad_field_and_the_key_are_one_400(app: Wiring) -> None:
    """A refund body with amount 0, an unknown reason and an unknown property, and an empty
    Idempotency-Key: one 400 naming all four; nothing stored."""
    succeeded(app)
    bad = {"amount": 0, "reason": "whim", "note": "x"}

    status, body = answer(request_action.refund(event(bad, **{"Idempotency-Key": ""}), CONTEXT))

    assert (400, "validation_error") == (status, body["error"]["code"])
    assert ["Idempotency-Key", "amount", "note", "reason"] == sorted(
        d["field"] for d in body["error"]["details"]
    )
    assert [] == app.stored_actions()


@pytest.mark.parametrize(
    ("handler", "body"),
    [(request_action.void, {"amount": 5}), (request_action.capture, {"reason": "duplicate"})],
    ids=["void-amount", "capture-reason"],
)
def test_a_property_of_another_route_is_a_400(app: Wiring, handler: Any, body: object) -> None:
    """A void takes no amount; a capture no reason."""
    authorized(app)

    status, answered = answer(handler(event(body), CONTEXT))

    assert (400, [next(iter(body))]) == (status, [d["field"] for d in answered["error"]["details"]])


@pytest.mark.parametrize(
    ("handler", "body", "setup", "code"),
    [
        (request_action.capture, {}, "pending", "payment_unexpected_state"),
        (request_action.void, {}, "capture-pending", "action_in_progress"),
        (request_action.capture, {"amount": 1051}, "authorized", "amount_too_large"),
        (request_action.refund, {"amount": 1051}, "succeeded", "amount_too_large"),
        (request_action.refund, {}, "authorized", "payment_unexpected_state"),
    ],
)
def test_each_refusal_is_a_409_with_its_code(
    app: Wiring, handler: Any, body: object, setup: str, code: str
) -> None:
    """The domain's refusal answers 409 with its SPEC code, and stores nothing more."""
    if setup == "pending":
        app.holding(pending_payment(ReversibleCipher(), capture_method="manual"))
    elif setup == "succeeded":
        succeeded(app)
    else:
        authorized(app)
    if setup == "capture-pending":
        request_action.capture(event({}), CONTEXT)
    before = app.stored_actions()

    status, answered = answer(handler(event(body), CONTEXT))

    assert (409, code, before) == (status, answered["error"]["code"], app.stored_actions())


@pytest.mark.parametrize("handler", [request_action.capture, request_action.refund])
def test_another_merchants_payment_is_404(app: Wiring, handler: Any) -> None:
    """The path's payment belongs to another merchant: 404 not_found, as if it did not
    exist; nothing stored."""
    app.holding(
        pending_payment(ReversibleCipher(), merchant_id=OTHER_MERCHANT_ID, capture_method="manual")
    )

    status, body = answer(handler(event({}), CONTEXT))

    assert (404, "not_found", []) == (status, body["error"]["code"], app.stored_actions())


def test_the_list_is_oldest_first_and_matches_its_contract(app: Wiring) -> None:
    """Two refunds listed in order, as a valid action list."""
    succeeded(app)
    first = json.loads(request_action.refund(event({"amount": 100}), CONTEXT)["body"])
    app.clock.advance(timedelta(seconds=1))
    second = json.loads(request_action.refund(event({"amount": 200}), CONTEXT)["body"])

    status, body = answer(list_actions.handler(event(), CONTEXT))

    assert (200, [], [first["id"], second["id"]]) == (
        status,
        contracts.validate("action-list", body),
        [a["id"] for a in body["data"]],
    )


@pytest.mark.parametrize(
    ("action_id", "status", "code"),
    [("not-a-uuid", 400, "validation_error"), (str(UUID(int=99, version=4)), 404, "not_found")],
)
def test_a_bad_or_unknown_action_id(app: Wiring, action_id: str, status: int, code: str) -> None:
    """An action id that is not a UUID is 400; one the payment does not have, 404."""
    succeeded(app)

    answered, body = answer(get_action.handler(event(action_id=action_id), CONTEXT))

    assert (status, code) == (answered, body["error"]["code"])


def test_another_merchants_key_is_403_on_every_route(app: Wiring) -> None:
    """The path's merchant is not the key's: 403 on the POSTs and the reads."""
    succeeded(app)
    handlers = (request_action.capture, request_action.void, request_action.refund)
    caller = OTHER_MERCHANT_ID
    statuses = [answer(h(event({}, caller=caller), CONTEXT))[0] for h in handlers]
    statuses.append(answer(list_actions.handler(event(caller=caller), CONTEXT))[0])

    assert [403, 403, 403, 403] == statuses


@pytest.mark.parametrize(
    ("suffix", "allow"),
    [
        ("/capture", "POST"),
        ("/void", "POST"),
        ("/refunds", "POST"),
        ("/actions", "GET"),
        ("/actions/{action_id}", "GET"),
    ],
)
def test_an_undeclared_method_on_an_action_route_is_405(suffix: str, allow: str) -> None:
    """405 method_not_allowed with `Allow` naming the route's one method."""
    resource = "/merchant/{merchant_id}/payment/{payment_id}" + suffix

    response = method_not_allowed({"resource": resource, "httpMethod": "DELETE"})

    assert (405, allow) == (response["statusCode"], response["headers"]["Allow"])


def test_every_refusal_of_the_domain_has_its_own_409() -> None:
    """Each ActionRefused subclass is answered 409 with exactly the code it carries."""
    from shared_kernel.api.merchant import http_errors as mapped
    from shared_kernel.domain.errors import ActionRefused

    answers = {}
    for refusal in ActionRefused.__subclasses__():

        @mapped
        def refusing(event: dict[str, Any], context: Any, refusal: Any = refusal) -> Any:
            raise refusal("why")

        answers[refusal.code] = answer(refusing({}, CONTEXT))
    assert {code: (409, code) for code in answers} == {
        code: (status, body["error"]["code"]) for code, (status, body) in answers.items()
    }
    assert 5 == len(answers)
