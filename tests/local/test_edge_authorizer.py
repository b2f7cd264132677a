"""The edge's emulation of API Gateway's TOKEN authorizer step and its result cache
(local/edge/authorizer.py), with a scripted authorizer and clock, and through the proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.edge.authorizer import (
    OVERRIDE_HEADER,
    AuthorizerFailed,
    EdgeAuthorizer,
    load_protected_routes,
    path_pattern,
    policy_allows,
)
from local.edge.offline_errors import OfflineError
from local.edge.proxy import start_edge

pytestmark = pytest.mark.local

MERCHANT_YML = Path(__file__).resolve().parents[2] / "services" / "merchant-api" / "serverless.yml"
KEY = "Bearer gw_key-of-m1"
ARN_ROOT = "arn:aws:execute-api:eu-west-1:123456789012:local/local"


def allow(merchant_id: str, resource: str = f"{ARN_ROOT}/*") -> dict[str, Any]:
    """A policy answer as the merchant API's authorizer gives it."""
    return {
        "principalId": merchant_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}
            ],
        },
        "context": {"merchant_id": merchant_id},
    }


class ScriptedAuthorizer:
    """Answers per token from a dict (a missing token is 'Unauthorized'); records calls."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, function_name: str, event: dict[str, Any]) -> Any:
        self.events.append((function_name, event))
        answer = self.answers.get(event["authorizationToken"], "Unauthorized")
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def edge_authorizer(
    answers: dict[str, Any], ttl_s: float = 60
) -> tuple[EdgeAuthorizer, ScriptedAuthorizer, Clock]:
    """An EdgeAuthorizer on the merchant API's routes, TTL `ttl_s`."""
    script, clock = ScriptedAuthorizer(answers), Clock()
    routes = load_protected_routes(MERCHANT_YML, "local", ttl_s)
    return (
        EdgeAuthorizer(routes, script, region="eu-west-1", stage="local", clock=clock),
        script,
        clock,
    )


def context_of(headers: list[tuple[str, str]] | OfflineError) -> dict[str, Any]:
    """The authorizer context an authorised request carries to serverless-offline."""
    assert isinstance(headers, list), headers
    values = [v for n, v in headers if n.lower() == OVERRIDE_HEADER]
    assert 1 == len(values), headers
    context: dict[str, Any] = json.loads(values[0])
    return context


def test_the_merchant_api_template_protects_every_route_with_a_60_s_cache() -> None:
    """Read from services/merchant-api/serverless.yml: POST payments, GET payment, GET payments,
    GET events and one event, the four webhook endpoint routes, the POSTs of a payment's
    capture, void and refunds, GET its actions and one action, an event's deliveries and its
    resend, by the `authorizer` function on the Authorization header, cached
    resultTtlInSeconds (60 s)."""
    routes = load_protected_routes(MERCHANT_YML, "local")
    payment = "/merchant/m1/payment/p1"
    endpoints = "/merchant/m1/webhook-endpoints"
    paths = ["/merchant/m1/payments", payment, "/merchant/m1/payments"]
    paths += ["/merchant/m1/events", "/merchant/m1/events/e1"]
    paths += [endpoints, endpoints, f"{endpoints}/e1", f"{endpoints}/e1/rotate-secret"]
    paths += [f"{payment}/capture", f"{payment}/void", f"{payment}/refunds"]
    paths += [f"{payment}/actions", f"{payment}/actions/a1"]
    paths += ["/merchant/m1/events/e1/deliveries", "/merchant/m1/events/e1/resend"]
    methods = ["POST", "GET", "GET", "GET", "GET", "POST", "GET", "DELETE", "POST"]
    methods += ["POST", "POST", "POST", "GET", "GET", "GET", "POST"]

    assert [(method, True) for method in methods] == [
        (r.method, r.path.fullmatch(path) is not None)
        for r, path in zip(routes, paths, strict=True)
    ]
    assert {("authorizer", "merchant-api-local-authorizer", "Authorization", 60.0)} == {
        (
            r.authorizer.name,
            r.authorizer.function_name,
            r.authorizer.identity_header,
            r.authorizer.ttl_s,
        )
        for r in routes
    }
    assert {3.0} == {r.authorizer.ttl_s for r in load_protected_routes(MERCHANT_YML, "local", 3)}


def test_path_templates_match_one_segment_per_parameter() -> None:
    """`{id}` is one path segment; a trailing slash is ignored; nothing else matches."""
    pattern = path_pattern("/merchant/{merchant_id}/payment/{payment_id}")

    assert [True, True, False, False] == [
        pattern.fullmatch(p) is not None
        for p in (
            "/merchant/a/payment/b",
            "/merchant/a/payment/b/",
            "/merchant/a/b/payment/c",
            "/merchant/a/payment",
        )
    ]


def test_a_policy_is_served_from_the_cache_until_the_ttl_then_asked_again() -> None:
    """Within the TTL the cached Allow answers (even once the key is revoked); after it, the
    authorizer is asked again and its 401 stands."""
    authorizer, script, clock = edge_authorizer({KEY: allow("m1")}, ttl_s=60)
    headers = [("Authorization", KEY)]

    first = authorizer.authorize("GET", "/merchant/m1/payment/p1", headers)
    script.answers.clear()  # the key is revoked
    clock.now += 59.9
    cached = authorizer.authorize("POST", "/merchant/m1/payments", headers)
    clock.now += 0.1
    expired = authorizer.authorize("GET", "/merchant/m1/payment/p1", headers)

    assert ("m1", "m1") == (context_of(first)["merchant_id"], context_of(cached)["merchant_id"])
    assert OfflineError("UNAUTHORIZED", 401, "Unauthorized") == expired
    assert 2 == len(script.events)
    assert {
        "type": "TOKEN",
        "authorizationToken": KEY,
        "methodArn": f"{ARN_ROOT}/GET/merchant/m1/payment/p1",
    } == script.events[0][1]


def test_ttl_zero_asks_the_authorizer_every_time() -> None:
    """resultTtlInSeconds 0: no cache, a revoked key is refused on the next request."""
    authorizer, script, _ = edge_authorizer({KEY: allow("m1")}, ttl_s=0)

    before = authorizer.authorize("GET", "/merchant/m1/payment/p1", [("Authorization", KEY)])
    script.answers.clear()
    after = authorizer.authorize("GET", "/merchant/m1/payment/p1", [("Authorization", KEY)])

    assert "m1" == context_of(before)["merchant_id"]
    assert (401, 2) == (getattr(after, "status", None), len(script.events))


def test_unauthorized_is_never_cached_and_the_cache_key_is_the_header_value() -> None:
    """A key refused once works as soon as the authorizer accepts it; another header value
    is another cache entry."""
    authorizer, script, _ = edge_authorizer({}, ttl_s=60)

    refused = authorizer.authorize("GET", "/merchant/m1/payment/p1", [("Authorization", KEY)])
    script.answers[KEY] = allow("m1")
    accepted = authorizer.authorize("GET", "/merchant/m1/payment/p1", [("Authorization", KEY)])
    other = authorizer.authorize("GET", "/merchant/m1/payment/p1", [("Authorization", KEY + "x")])

    assert (401, "m1", 401) == (
        getattr(refused, "status", None),
        context_of(accepted)["merchant_id"],
        getattr(other, "status", None),
    )
    assert 3 == len(script.events)


@pytest.mark.parametrize("headers", [[], [("Authorization", "")], [("Authorization", "  ")]])
def test_no_identity_source_is_401_without_calling_the_authorizer(
    headers: list[tuple[str, str]],
) -> None:
    """A missing or empty Authorization header: 401, as API Gateway answers it itself."""
    authorizer, script, _ = edge_authorizer({"": allow("m1")})

    refused = authorizer.authorize("POST", "/merchant/m1/payments", headers)

    assert (401, []) == (getattr(refused, "status", None), script.events)


def test_deny_and_failures_are_403_and_500() -> None:
    """A policy not allowing the method ARN is 403 ACCESS_DENIED; an authorizer crash or an
    answer without principalId is 500 AUTHORIZER_FAILURE; a raised 'Unauthorized' is 401."""
    answers = {
        "Bearer elsewhere": allow("m1", f"{ARN_ROOT}/GET/other/*"),
        "Bearer crash": AuthorizerFailed("boom"),
        "Bearer raised": AuthorizerFailed("Unauthorized"),
        "Bearer anonymous": {"policyDocument": {}},
    }
    authorizer, _, _ = edge_authorizer(answers)

    statuses = {
        token: getattr(
            authorizer.authorize("POST", "/merchant/m1/payments", [("Authorization", token)]),
            "response_type",
            None,
        )
        for token in answers
    }

    assert {
        "Bearer elsewhere": "ACCESS_DENIED",
        "Bearer crash": "AUTHORIZER_FAILURE",
        "Bearer raised": "UNAUTHORIZED",
        "Bearer anonymous": "AUTHORIZER_FAILURE",
    } == statuses


def test_explicit_deny_wins_over_allow() -> None:
    """Of an Allow and a Deny matching the same ARN, the Deny decides."""
    arn = f"{ARN_ROOT}/GET/merchant/m1/payment/p1"
    allow_all = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{ARN_ROOT}/*"}
    deny_get = {"Action": "execute-api:*", "Effect": "Deny", "Resource": f"{ARN_ROOT}/GET/*"}

    assert (True, False) == (
        policy_allows({"Statement": [allow_all]}, arn),
        policy_allows({"Statement": [allow_all, deny_get]}, arn),
    )


def test_a_clients_override_header_is_dropped_and_an_unprotected_route_is_not_authorised() -> None:
    """The 405 catch-all (ANY) has no authorizer: the request goes on as sent, minus any
    `sls-offline-authorizer-override` a client forged."""
    authorizer, script, _ = edge_authorizer({})
    forged = [("Authorization", KEY), (OVERRIDE_HEADER, '{"merchant_id": "m2"}')]

    forwarded = authorizer.authorize("PUT", "/merchant/m1/payments", forged)

    assert ([("Authorization", KEY)], []) == (forwarded, script.events)


@pytest.fixture
def guarded_edge(upstream: Any) -> Iterator[tuple[httpx.Client, ScriptedAuthorizer]]:
    """An edge with the emulated authorizer in front of the scripted upstream."""
    authorizer, script, _ = edge_authorizer({KEY: allow("m1")})
    proxy = start_edge(0, upstream.port, {}, authorizer)
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        yield client, script
    proxy.close()


def test_the_proxy_forwards_the_authorizer_context_and_refuses_before_the_upstream(
    upstream: Any, guarded_edge: tuple[httpx.Client, ScriptedAuthorizer]
) -> None:
    """An authorised request reaches the upstream with the context (the client's forged one
    dropped); a refused one never reaches it."""
    client, _ = guarded_edge
    upstream.script("/merchant/m1/payment/p1", 200, b"{}")

    ok = client.get(
        "/merchant/m1/payment/p1",
        headers={"Authorization": KEY, OVERRIDE_HEADER: '{"merchant_id":"m2"}'},
    )
    reached = len(upstream.received)
    refused = client.get("/merchant/m1/payment/p1", headers={"Authorization": "Bearer unknown"})

    assert (200, 401, 1) == (ok.status_code, refused.status_code, reached)
    assert {"principalId": "m1", "integrationLatency": 0, "merchant_id": "m1"} == json.loads(
        upstream.received[0].header(OVERRIDE_HEADER) or "null"
    )
    assert 1 == len(upstream.received)


def test_an_edge_without_authorizer_drops_a_forged_override_too(upstream: Any) -> None:
    """The callback API's edge has no authorizer; a client's override header still never
    reaches serverless-offline."""
    upstream.script("/bank/payment-updates", 200, b"{}")
    proxy = start_edge(0, upstream.port, {})
    try:
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            client.post("/bank/payment-updates", content=b"{}", headers={OVERRIDE_HEADER: "{}"})
    finally:
        proxy.close()

    assert (1, None) == (len(upstream.received), upstream.last.header(OVERRIDE_HEADER))


def test_the_stack_shortens_the_ttl_with_authorizer_ttl_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTHORIZER_TTL_S overrides the template's TTL; unset, the stack keeps the template's."""
    from local.stack import LocalStack, Ports

    monkeypatch.setenv("AUTHORIZER_TTL_S", "2.5")
    shortened = LocalStack(Ports.all_free()).authorizer_ttl_s
    monkeypatch.delenv("AUTHORIZER_TTL_S")

    assert (2.5, None) == (shortened, LocalStack(Ports.all_free()).authorizer_ttl_s)
