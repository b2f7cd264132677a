"""Broken object-level authorisation and authentication: every merchant route with another
merchant's key or payment is refused (403/404), and every missing or malformed key is 401.

The routes are read from services/merchant-api/serverless.yml, so a new route joins the
matrix without editing this file.
"""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.cloudformation import load_yaml
from local.stack import LocalStack
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


def call(
    api: httpx.Client, method: str, template: str, merchant_id: str, payment_id: str, **kw: Any
) -> httpx.Response:
    """One request on a route, with the path's ids filled in and a valid body for POSTs."""
    path = template.replace("{merchant_id}", merchant_id).replace("{payment_id}", payment_id)
    if method in ("POST", "PUT", "PATCH"):
        kw.setdefault("json", payment_body("4242424242424242"))
    return api.request(method, path, **kw)


def test_the_matrix_covers_the_merchant_api() -> None:
    """Both documented routes are in the matrix, and every route is merchant-scoped."""
    assert ("POST", "/merchant/{merchant_id}/payments") in ROUTES
    assert ("GET", "/merchant/{merchant_id}/payment/{payment_id}") in ROUTES
    assert all("{merchant_id}" in path for _, path in ROUTES)


@pytest.fixture(scope="module")
def payments(api: httpx.Client, merchant: Any, other_merchant: Any) -> dict[str, str]:
    """One payment of each merchant, by merchant id."""
    found = {}
    for owner in (merchant, other_merchant):
        response = api.post(
            f"/merchant/{owner.id}/payments",
            json=payment_body("4242424242424242"),
            headers=auth(owner.api_key),
        )
        assert 201 == response.status_code, response.text
        found[owner.id] = response.json()["id"]
    return found


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_another_merchants_key_is_refused_on_every_route(
    api: httpx.Client,
    merchant: Any,
    other_merchant: Any,
    payments: dict[str, str],
    method: str,
    template: str,
) -> None:
    """Each merchant's key on the other's path (with the path owner's own payment, a random
    payment, and the key owner's payment) is 403 or 404; nothing is created or shown."""
    refused = []
    for owner, intruder in ((merchant, other_merchant), (other_merchant, merchant)):
        for payment_id in (payments[owner.id], payments[intruder.id], str(uuid.uuid4())):
            response = call(
                api, method, template, owner.id, payment_id, headers=auth(intruder.api_key)
            )
            FIGURES["bola_pairs"] += 1
            ok = response.status_code in (403, 404) and "error" in response.json()
            refused.append(ok)
            FIGURES["bola_failures"] += 0 if ok else 1
            assert payment_id not in response.text or payment_id in template, response.text

    assert all(refused)


@pytest.mark.parametrize(("method", "template"), [r for r in ROUTES if "{payment_id}" in r[1]])
def test_another_merchants_payment_under_ones_own_path_is_404(
    api: httpx.Client,
    merchant: Any,
    other_merchant: Any,
    payments: dict[str, str],
    method: str,
    template: str,
) -> None:
    """A merchant naming the other's payment id under its own path: 404, never the payment."""
    statuses = []
    for me, them in ((merchant, other_merchant), (other_merchant, merchant)):
        response = call(api, method, template, me.id, payments[them.id], headers=auth(me.api_key))
        FIGURES["bola_pairs"] += 1
        FIGURES["bola_failures"] += 0 if response.status_code == 404 else 1
        statuses.append((response.status_code, response.json()["error"]["code"]))

    assert [(404, "not_found")] * 2 == statuses


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
    api: httpx.Client, merchant: Any, payments: dict[str, str], method: str, template: str
) -> None:
    """No key, an empty one, the wrong scheme, garbage, an unknown or very long key: 401."""
    answers = {}
    path = template.replace("{merchant_id}", merchant.id)
    path = path.replace("{payment_id}", payments[merchant.id])
    body = json.dumps(payment_body("4242424242424242")).encode() if method == "POST" else None
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
    api: httpx.Client, merchant: Any, payments: dict[str, str], method: str
) -> None:
    """A method a route does not declare: 405 method_not_allowed naming the allowed ones."""
    answers = []
    for declared, template in ROUTES:
        response = call(api, method, template, merchant.id, payments[merchant.id])
        answers.append((response.status_code, response.headers.get("Allow"), declared))

    assert [(405, declared, declared) for (declared, _) in ROUTES] == answers


def test_a_rotated_key_works_through_its_grace_period_and_is_401_after(
    api: httpx.Client, stack: LocalStack
) -> None:
    """`make rotate-key` (the operator CLI): with a 24 h grace both keys work; with none, the
    earlier key is refused at once (401) and the new one works."""
    created = stack.register_merchant("Rotating merchant")
    merchant_id, first = created["merchant_id"], created["api_key"]
    path = f"/merchant/{merchant_id}/payment/{uuid.uuid4()}"

    def rotate(grace_hours: str) -> str:
        rotate_key = ("merchant", "rotate-key", merchant_id, "--grace-hours", grace_hours)
        done = gateway_ops("--stage", "local", *rotate_key, emulator_port=stack.ports.aws_emulator)
        assert 0 == done.returncode, done.stderr
        key: str = json.loads(done.stdout)["api_key"]
        return key

    second = rotate("24")
    during = [api.get(path, headers=auth(key)).status_code for key in (first, second)]
    third = rotate("0")
    after = [api.get(path, headers=auth(key)).status_code for key in (first, second, third)]
    FIGURES["bad_key_cases"] += 2

    assert [404, 404] == during  # authenticated: no such payment
    assert [401, 401, 404] == after
