"""Broken object-level authorisation and authentication: every merchant route with another
merchant's key or payment is refused (403/404), and every missing or malformed key is 401.

The routes are read from services/merchant-api/serverless.yml, so a new route joins the
matrix without editing this file.
"""

from __future__ import annotations

import http.client
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.cloudformation import load_yaml
from local.stack import LocalStack
from tests.conftest import stored_payment_ids
from tests.operator_cli import gateway_ops
from tests.security.support import FIGURES, auth, payment_body

pytestmark = pytest.mark.security

MERCHANT_YML = Path(__file__).resolve().parents[2] / "services" / "merchant-api" / "serverless.yml"


def merchant_routes() -> list[tuple[str, str]]:
    """(METHOD, path template) of every HTTP route of the merchant API."""
    document = load_yaml(MERCHANT_YML)
    routes = []
    for function in (document.get("functions") or {}).values():
        for event in function.get("events") or []:
            http = event.get("http") if isinstance(event, dict) else None
            # `ANY` is the 405 catch-all of undeclared methods, not a merchant operation.
            if http and http["method"].lower() != "any":
                routes.append((http["method"].upper(), "/" + http["path"].lstrip("/")))
    return sorted(routes)


ROUTES = merchant_routes()


ENDPOINT_ID = "{endpoint_id}"
EVENT_ID = "{event_id}"


def valid_body(template: str) -> dict[str, Any]:
    """A valid body for a POST on `template`: `{}` for a payment's capture, void or refunds."""
    if "{payment_id}" in template:
        return {}
    if template.endswith("/webhook-endpoints"):
        return {"url": "http://127.0.0.1:3003/webhooks/bola", "enabled_events": ["*"]}
    if template.endswith("/rotate-secret"):
        return {"expires_in_hours": 0}
    if template.endswith("/resend"):
        return {}
    return payment_body("4242424242424242")


def call(
    api: httpx.Client,
    method: str,
    template: str,
    merchant_id: str,
    object_id: str,
    action_id: str | None = None,
    **kw: Any,
) -> httpx.Response:
    """One request on a route, with the path's ids filled in (`object_id` is the payment,
    event or webhook endpoint the route names; an unknown action id unless given) and a
    valid body for POSTs."""
    path = template.replace("{merchant_id}", merchant_id).replace("{payment_id}", object_id)
    path = path.replace(ENDPOINT_ID, object_id).replace(EVENT_ID, object_id)
    path = path.replace("{action_id}", action_id or str(uuid.uuid4()))
    if method in ("POST", "PUT", "PATCH"):
        kw.setdefault("json", valid_body(template))
    return api.request(method, path, **kw)


def objects_of(
    template: str,
    payments: dict[str, str],
    endpoints: dict[str, str],
    events: dict[str, str],
) -> dict[str, str]:
    """The object ids, by merchant, a route's path names: webhook endpoints, events or
    payments."""
    if ENDPOINT_ID in template:
        return endpoints
    return events if EVENT_ID in template else payments


def test_the_matrix_covers_the_merchant_api() -> None:
    """The documented routes are in the matrix, and every route is merchant-scoped."""
    assert ("POST", "/merchant/{merchant_id}/payments") in ROUTES
    assert ("GET", "/merchant/{merchant_id}/payments") in ROUTES
    assert ("GET", "/merchant/{merchant_id}/payment/{payment_id}") in ROUTES
    assert ("POST", "/merchant/{merchant_id}/webhook-endpoints") in ROUTES
    assert ("DELETE", "/merchant/{merchant_id}/webhook-endpoints/{endpoint_id}") in ROUTES
    assert {
        ("POST", "/merchant/{merchant_id}/payment/{payment_id}/capture"),
        ("POST", "/merchant/{merchant_id}/payment/{payment_id}/void"),
        ("POST", "/merchant/{merchant_id}/payment/{payment_id}/refunds"),
        ("GET", "/merchant/{merchant_id}/payment/{payment_id}/actions"),
        ("GET", "/merchant/{merchant_id}/payment/{payment_id}/actions/{action_id}"),
    } <= set(ROUTES)
    assert all("{merchant_id}" in path for _, path in ROUTES)


def one_each(api: httpx.Client, merchants: tuple[Any, ...], collection: str) -> dict[str, str]:
    """One object created by each merchant on its `collection` route, ids by merchant id."""
    found = {}
    for owner in merchants:
        template = f"/merchant/{{merchant_id}}/{collection}"
        response = api.post(
            template.replace("{merchant_id}", owner.id),
            json=valid_body(template),
            headers=auth(owner.api_key),
        )
        assert 201 == response.status_code, response.text
        found[owner.id] = response.json()["id"]
    return found


@pytest.fixture(scope="module")
def events(
    api: httpx.Client, merchant: Any, other_merchant: Any, payments: dict[str, str]
) -> dict[str, str]:
    """One event of each merchant (of its payment above), by merchant id."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while len(found) < 2:
        assert time.monotonic() < deadline, "no events were recorded"
        for owner in (merchant, other_merchant):
            page = api.get(f"/merchant/{owner.id}/events", headers=auth(owner.api_key)).json()
            if page["data"]:
                found[owner.id] = page["data"][0]["id"]
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def payments(api: httpx.Client, merchant: Any, other_merchant: Any) -> dict[str, str]:
    """One payment of each merchant, by merchant id."""
    return one_each(api, (merchant, other_merchant), "payments")


@pytest.fixture(scope="module")
def endpoints(api: httpx.Client, merchant: Any, other_merchant: Any) -> dict[str, str]:
    """One webhook endpoint of each merchant, by merchant id."""
    return one_each(api, (merchant, other_merchant), "webhook-endpoints")


@pytest.fixture(scope="module")
def refunds(
    api: httpx.Client, merchant: Any, other_merchant: Any, payments: dict[str, str]
) -> dict[str, str]:
    """A refund of 1 of each merchant's payment once it succeeded: action id by payment id."""
    found = {}
    for owner in (merchant, other_merchant):
        payment_id = payments[owner.id]
        path = f"/merchant/{owner.id}/payment/{payment_id}"
        deadline = time.monotonic() + 45
        while api.get(path, headers=auth(owner.api_key)).json()["status"] != "succeeded":
            assert time.monotonic() < deadline, "the payment did not succeed"
            time.sleep(0.25)
        response = api.post(f"{path}/refunds", json={"amount": 1}, headers=auth(owner.api_key))
        assert 202 == response.status_code, response.text
        found[payment_id] = response.json()["id"]
    return found


def stored_state(
    stack: LocalStack, api: httpx.Client, merchants: list[Any], payments: dict[str, str]
) -> dict[str, Any]:
    """Each merchant's stored payment ids, webhook endpoints and its payment's action ids
    (read with its own key)."""
    state = {}
    for m in merchants:
        actions = f"/merchant/{m.id}/payment/{payments[m.id]}/actions"
        state[m.id] = (
            stored_payment_ids(stack, m.id),
            api.get(f"/merchant/{m.id}/webhook-endpoints", headers=auth(m.api_key)).json(),
            [a["id"] for a in api.get(actions, headers=auth(m.api_key)).json()["data"]],
        )
    return state


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_another_merchants_key_is_refused_on_every_route(
    api: httpx.Client,
    stack: LocalStack,
    merchant: Any,
    other_merchant: Any,
    payments: dict[str, str],
    endpoints: dict[str, str],
    events: dict[str, str],
    refunds: dict[str, str],
    method: str,
    template: str,
) -> None:
    """Each merchant's key on the other's path (with the path owner's own payment, its
    refund, event or webhook endpoint, a random id, and the key owner's own) is 403 or 404;
    nothing is created (no payment, no action, no endpoint), changed, deleted or shown."""
    refused = []
    objects = objects_of(template, payments, endpoints, events)
    before = stored_state(stack, api, [merchant, other_merchant], payments)
    for owner, intruder in ((merchant, other_merchant), (other_merchant, merchant)):
        for payment_id in (objects[owner.id], objects[intruder.id], str(uuid.uuid4())):
            response = call(
                api,
                method,
                template,
                owner.id,
                payment_id,
                refunds.get(payment_id),
                headers=auth(intruder.api_key),
            )
            FIGURES["bola_pairs"] += 1
            ok = response.status_code in (403, 404) and "error" in response.json()
            refused.append(ok)
            FIGURES["bola_failures"] += 0 if ok else 1
            assert payment_id not in response.text or payment_id in template, response.text

    assert all(refused)
    assert before == stored_state(stack, api, [merchant, other_merchant], payments)


@pytest.mark.parametrize(
    ("method", "template"), [r for r in ROUTES if "{payment_id}" in r[1] or ENDPOINT_ID in r[1]]
)
def test_another_merchants_object_under_ones_own_path_is_404(
    api: httpx.Client,
    stack: LocalStack,
    merchant: Any,
    other_merchant: Any,
    payments: dict[str, str],
    endpoints: dict[str, str],
    refunds: dict[str, str],
    method: str,
    template: str,
) -> None:
    """A merchant naming the other's payment (and its refund) or webhook endpoint under its
    own path: 404, never the object; no action is created and the other's endpoint is
    neither deleted nor rotated."""
    statuses = []
    # Event routes have their own test below (an event is recorded, not created).
    objects = objects_of(template, payments, endpoints, events={})
    before = stored_state(stack, api, [merchant, other_merchant], payments)
    for me, them in ((merchant, other_merchant), (other_merchant, merchant)):
        theirs = objects[them.id]
        response = call(
            api, method, template, me.id, theirs, refunds.get(theirs), headers=auth(me.api_key)
        )
        FIGURES["bola_pairs"] += 1
        FIGURES["bola_failures"] += 0 if response.status_code == 404 else 1
        statuses.append((response.status_code, response.json()["error"]["code"]))

    assert [(404, "not_found")] * 2 == statuses
    assert before == stored_state(stack, api, [merchant, other_merchant], payments)


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if "{event_id}" in r[1]])
def test_another_merchants_event_under_ones_own_path_is_404(
    api: httpx.Client,
    merchant: Any,
    other_merchant: Any,
    events: dict[str, str],
    method: str,
    template: str,
) -> None:
    """A merchant naming the other's event id under its own path: 404, never the event."""
    statuses = []
    for me, them in ((merchant, other_merchant), (other_merchant, merchant)):
        response = call(api, method, template, me.id, events[them.id], headers=auth(me.api_key))
        FIGURES["bola_pairs"] += 1
        FIGURES["bola_failures"] += 0 if response.status_code == 404 else 1
        statuses.append((response.status_code, response.json()["error"]["code"]))
        assert events[them.id] not in response.text or response.status_code != 200

    assert [(404, "not_found")] * 2 == statuses


def test_a_cursor_of_another_merchants_event_is_400(
    api: httpx.Client, merchant: Any, other_merchant: Any, events: dict[str, str]
) -> None:
    """Paging one's own events from the other's event: 400 naming the cursor, no event."""
    answers = []
    for me, them in ((merchant, other_merchant), (other_merchant, merchant)):
        for cursor in ("starting_after", "ending_before"):
            response = api.get(
                f"/merchant/{me.id}/events",
                params={cursor: events[them.id]},
                headers=auth(me.api_key),
            )
            FIGURES["bola_pairs"] += 1
            FIGURES["bola_failures"] += 0 if response.status_code == 400 else 1
            answers.append((response.status_code, response.json()["error"]["details"][0]["field"]))

    assert [(400, "starting_after"), (400, "ending_before")] * 2 == answers


def test_a_forged_authorizer_context_header_is_ignored(
    api: httpx.Client, merchant: Any, other_merchant: Any, payments: dict[str, str]
) -> None:
    """`sls-offline-authorizer-override` naming the other merchant (serverless-offline would
    take it as the authorizer's context; API Gateway has no such thing): with one's own key
    still 403, with no key still 401, never the other merchant's payment."""
    path = f"/merchant/{other_merchant.id}/payment/{payments[other_merchant.id]}"
    forged = {
        "sls-offline-authorizer-override": json.dumps(
            {"principalId": other_merchant.id, "merchant_id": other_merchant.id}
        )
    }
    answers = [
        api.get(path, headers={**auth(merchant.api_key), **forged}).status_code,
        api.get(path, headers=forged).status_code,
    ]
    FIGURES["bola_pairs"] += 2
    FIGURES["bola_failures"] += sum(1 for status in answers if status == 200)

    assert [403, 401] == answers


def bad_authorizations(valid_key: str) -> dict[str, dict[str, str]]:
    """Authorization headers that must not authenticate anyone."""
    return {
        "missing": {},
        "empty": {"Authorization": ""},
        "scheme-only": {"Authorization": "Bearer"},
        "scheme-and-space": {"Authorization": "Bearer "},
        "wrong-scheme": {"Authorization": f"Basic {valid_key}"},
        "no-scheme": {"Authorization": valid_key},
        "garbage": {"Authorization": "Bearer !!!%%%<script>{}\\x00"},
        "unknown-key": {"Authorization": "Bearer gw_" + "A" * 43},
        "key-with-a-changed-character": {"Authorization": f"Bearer {valid_key[:-1]}X"},
        "key-with-a-suffix": {"Authorization": f"Bearer {valid_key}x"},
        "very-long": {"Authorization": "Bearer gw_" + "B" * 6000},
    }


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_missing_and_malformed_keys_are_401_on_every_route(
    api: httpx.Client,
    merchant: Any,
    payments: dict[str, str],
    endpoints: dict[str, str],
    method: str,
    template: str,
) -> None:
    """No key, an empty one, the wrong scheme, garbage, an unknown or very long key: 401."""
    answers = {}
    path = template.replace("{merchant_id}", merchant.id)
    path = path.replace("{payment_id}", payments[merchant.id])
    path = path.replace(ENDPOINT_ID, endpoints[merchant.id]).replace(EVENT_ID, str(uuid.uuid4()))
    body = json.dumps(valid_body(template)).encode() if method == "POST" else None
    for name, headers in bad_authorizations(merchant.api_key).items():
        # http.client sends header values as given (httpx refuses "Bearer " and control bytes).
        connection = http.client.HTTPConnection(api.base_url.host, api.base_url.port, timeout=30)
        try:
            connection.request(
                method, path, body=body, headers={**headers, "Content-Type": "application/json"}
            )
            response = connection.getresponse()
            status, raw = response.status, response.read()
        finally:
            connection.close()
        FIGURES["bad_key_cases"] += 1
        try:
            answers[name] = (status, json.loads(raw)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            answers[name] = (status, raw[:200].decode(errors="replace"))

    assert {name: (401, "unauthorized") for name in answers} == answers


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRACE"])
def test_undeclared_methods_are_405_with_allow(
    api: httpx.Client,
    merchant: Any,
    payments: dict[str, str],
    endpoints: dict[str, str],
    events: dict[str, str],
    method: str,
) -> None:
    """A method a route does not declare: 405 method_not_allowed naming the allowed ones."""
    declared = {t: ", ".join(sorted(m for m, p in ROUTES if p == t)) for _, t in ROUTES}
    undeclared = [t for t in dict.fromkeys(t for _, t in ROUTES) if method not in declared[t]]
    answers = []
    for template in undeclared:
        object_id = objects_of(template, payments, endpoints, events)[merchant.id]
        response = call(api, method, template, merchant.id, object_id)
        answers.append((response.status_code, response.headers.get("Allow"), template))

    # A resource with several methods (GET and POST on /payments) names them all.
    assert [(405, declared[t], t) for t in undeclared] == answers


def rotate(stack: LocalStack, merchant_id: str, grace_hours: str) -> str:
    """`make rotate-key` (the operator CLI) on the running stack; the new key."""
    rotate_key = ("merchant", "rotate-key", merchant_id, "--grace-hours", grace_hours)
    done = gateway_ops("--stage", "local", *rotate_key, emulator_port=stack.ports.aws_emulator)
    assert 0 == done.returncode, done.stderr
    key: str = json.loads(done.stdout)["api_key"]
    return key


def test_a_rotated_key_works_through_its_grace_period_and_is_401_after(
    api: httpx.Client, stack: LocalStack
) -> None:
    """`make rotate-key` (the operator CLI): with a 24 h grace both keys work; with none, the
    earlier keys work on from the authorizer's cache (API Gateway's, emulated at the edge) for
    at most its TTL, then 401; the new one works."""
    ttl = stack.authorizer.routes[0].authorizer.ttl_s
    created = stack.register_merchant("Rotating merchant")
    merchant_id, first = created["merchant_id"], created["api_key"]
    path = f"/merchant/{merchant_id}/payment/{uuid.uuid4()}"

    def statuses(*keys: str) -> list[int]:
        return [api.get(path, headers=auth(key)).status_code for key in keys]

    second = rotate(stack, merchant_id, "24")
    asking_at = time.monotonic()
    during = statuses(first, second)  # both policies cached between asking_at and cached_at
    cached_at = time.monotonic()
    third = rotate(stack, merchant_id, "0")
    right_after = statuses(first, second, third)
    # No cached policy can have expired before asking_at + ttl.
    within_ttl = time.monotonic() - asking_at < ttl
    calls_before = stack.authorizer.invocations
    while statuses(first, second) != [401, 401] and time.monotonic() - cached_at < ttl + 5:
        time.sleep(0.2)
    refused_at = time.monotonic()
    after = statuses(first, second, third)
    FIGURES["bad_key_cases"] += 2

    assert [404, 404] == during  # authenticated: no such payment
    assert within_ttl, "revoking took longer than the TTL: the cache could not be seen"
    assert [404, 404, 404] == right_after  # served from the cache
    assert [401, 401, 404] == after
    # Refused once the cached policies expired: no sooner than the TTL, and soon after it.
    assert (True, True) == (refused_at - asking_at >= ttl, refused_at - cached_at <= ttl + 1.5)
    assert stack.authorizer.invocations > calls_before  # the expired entries were asked again


def test_a_revoked_key_not_in_the_authorizers_cache_is_401_at_once(
    api: httpx.Client, stack: LocalStack
) -> None:
    """A key revoked before any request used it has no cached policy: refused at once."""
    created = stack.register_merchant("Rotating merchant, unused key")
    merchant_id, first = created["merchant_id"], created["api_key"]
    path = f"/merchant/{merchant_id}/payment/{uuid.uuid4()}"

    second = rotate(stack, merchant_id, "0")
    answers = [api.get(path, headers=auth(key)).status_code for key in (first, second)]
    FIGURES["bad_key_cases"] += 1

    assert [401, 404] == answers
