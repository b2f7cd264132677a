"""The edge proxy: API Gateway's gateway responses in front of a scripted serverless-offline."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.edge.gateway_responses import load_gateway_responses
from local.edge.offline_errors import OfflineError, classify_offline_error
from local.edge.proxy import EdgeProxy, start_edge

pytestmark = pytest.mark.local

SERVERLESS_YML = """\
service: test-api
provider:
  name: aws
  iam:
    role:
      statements:
        - Effect: Allow
          Action: [sqs:SendMessage]
          Resource: !GetAtt PaymentsQueue.Arn
resources:
  Resources:
    PaymentsQueue:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: !Sub '${AWS::StackName}-payments'
    GatewayResponseUnauthorized:
      Type: AWS::ApiGateway::GatewayResponse
      Properties:
        RestApiId: !Ref ApiGatewayRestApi
        ResponseType: UNAUTHORIZED
        StatusCode: '401'
        ResponseParameters:
          gatewayresponse.header.Content-Type: "'application/json'"
          gatewayresponse.header.WWW-Authenticate: "'Bearer'"
        ResponseTemplates:
          application/json: |-
            {"error":{"code":"unauthorized","message":"unknown API key","details":[]}}
    GatewayResponseAccessDenied:
      Type: AWS::ApiGateway::GatewayResponse
      Properties:
        RestApiId: { Ref: ApiGatewayRestApi }
        ResponseType: ACCESS_DENIED
        StatusCode: '403'
        ResponseTemplates:
          application/json: |-
            {"error":{"code":"forbidden","message":"not your merchant","details":[]}}
    GatewayResponseMissingToken:
      Type: AWS::ApiGateway::GatewayResponse
      Properties:
        RestApiId: !Ref ApiGatewayRestApi
        ResponseType: MISSING_AUTHENTICATION_TOKEN
        StatusCode: '404'
        ResponseParameters:
          gatewayresponse.header.Content-Type: "'application/json'"
        ResponseTemplates:
          application/json: '{"error":{"code":"not_found","message":"no such route","details":[]}}'
    GatewayResponseDefault4xx:
      Type: AWS::ApiGateway::GatewayResponse
      Properties:
        RestApiId: !Ref ApiGatewayRestApi
        ResponseType: DEFAULT_4XX
        ResponseParameters:
          gatewayresponse.header.Content-Type: "'application/json'"
        ResponseTemplates:
          application/json: |-
            {"error":{"code":"bad_request","message":$context.error.messageString,"details":[]}}
    GatewayResponseDefault5xx:
      Type: AWS::ApiGateway::GatewayResponse
      Properties:
        RestApiId: !Ref ApiGatewayRestApi
        ResponseType: DEFAULT_5XX
        ResponseParameters:
          gatewayresponse.header.Content-Type: "'application/json'"
        ResponseTemplates:
          application/json: |-
            {"error":{"code":"internal_error","message":"internal error","details":[]}}
"""

UNAUTHORIZED_BODY = {"error": {"code": "unauthorized", "message": "unknown API key", "details": []}}
INTERNAL_ERROR_BODY = {
    "error": {"code": "internal_error", "message": "internal error", "details": []}
}

# serverless-offline 13.9's own answers, as observed.
BOOM_UNAUTHORIZED = b'{"statusCode":401,"error":"Unauthorized","message":"Unauthorized"}'
BOOM_NO_IDENTITY = (
    b'{"statusCode":401,"error":"Unauthorized",'
    b'"message":"User is not authorized to access this resource"}'
)
BOOM_FORBIDDEN = (
    b'{"statusCode":403,"error":"Forbidden",'
    b'"message":"User is not authorized to access this resource"}'
)
ROUTE_NOT_FOUND = (
    b'{"currentRoute":"get - /nope","error":"Serverless-offline: route not found.",'
    b'"existingRoutes":["get - /merchant/{merchant_id}/x"],"statusCode":404}'
)
OFFLINE_LAMBDA_ERROR = (
    b'{"errorMessage":"Error while parsing template","errorType":"Error",'
    b'"offlineInfo":"If you believe this is an issue...","stackTrace":["Error: x"]}'
)


@pytest.fixture
def serverless_yml(tmp_path: Path) -> Path:
    """A small serverless.yml with gateway responses and CloudFormation short tags."""
    path = tmp_path / "serverless.yml"
    path.write_text(SERVERLESS_YML, encoding="utf-8")
    return path


@pytest.fixture
def edge(upstream: Any, serverless_yml: Path) -> Iterator[EdgeProxy]:
    """An edge proxy on a free port in front of the scripted upstream."""
    proxy = start_edge(0, upstream.port, load_gateway_responses(serverless_yml))
    yield proxy
    proxy.close()


@pytest.fixture
def client(edge: EdgeProxy) -> Iterator[httpx.Client]:
    """An HTTP client of the edge proxy."""
    with httpx.Client(base_url=edge.url, timeout=10) as http:
        yield http


def test_load_gateway_responses_reads_the_serverless_yml(serverless_yml: Path) -> None:
    """The table holds each GatewayResponse's status, literal headers and JSON template."""
    table = load_gateway_responses(serverless_yml)

    expected = {
        "status": 401,
        "headers": {"Content-Type": "application/json", "WWW-Authenticate": "Bearer"},
        "template": json.dumps(UNAUTHORIZED_BODY, separators=(",", ":")),
        "body": UNAUTHORIZED_BODY,
    }
    assert expected == table["UNAUTHORIZED"]
    assert {
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "MISSING_AUTHENTICATION_TOKEN",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } == set(table)
    assert None is table["DEFAULT_5XX"]["status"]


def test_load_gateway_responses_follows_file_references(tmp_path: Path) -> None:
    """`resources: ${file(...)}` fragments are read like inline resources."""
    (tmp_path / "gateway.yml").write_text(
        "Resources:\n"
        "  Denied:\n"
        "    Type: AWS::ApiGateway::GatewayResponse\n"
        "    Properties: {RestApiId: !Ref Api, ResponseType: ACCESS_DENIED, StatusCode: '403'}\n",
        encoding="utf-8",
    )
    (tmp_path / "serverless.yml").write_text(
        "service: s\nresources:\n  - ${file(gateway.yml)}\n", encoding="utf-8"
    )

    table = load_gateway_responses(tmp_path / "serverless.yml")

    assert {"ACCESS_DENIED": {"status": 403, "headers": {}, "template": None}} == table


@pytest.mark.parametrize("boom", [BOOM_UNAUTHORIZED, BOOM_NO_IDENTITY])
def test_boom_401_becomes_our_unauthorized_body(
    upstream: Any, client: httpx.Client, boom: bytes
) -> None:
    """serverless-offline's Boom 401 is answered with the UNAUTHORIZED gateway response."""
    upstream.script("/merchant/m1/payments", 401, boom)

    response = client.post("/merchant/m1/payments", content=b"{}")

    assert 401 == response.status_code
    assert UNAUTHORIZED_BODY == response.json()
    assert "application/json" == response.headers["content-type"]
    assert "Bearer" == response.headers["www-authenticate"]
    assert "UnauthorizedException" == response.headers["x-amzn-errortype"]


def test_boom_403_becomes_our_forbidden_body(upstream: Any, client: httpx.Client) -> None:
    """A policy that denies the route gives the ACCESS_DENIED gateway response."""
    upstream.script("/merchant/m2/payment/p", 403, BOOM_FORBIDDEN)

    response = client.get("/merchant/m2/payment/p")

    assert 403 == response.status_code
    assert {
        "error": {"code": "forbidden", "message": "not your merchant", "details": []}
    } == response.json()


def test_route_not_found_becomes_missing_authentication_token(
    upstream: Any, client: httpx.Client
) -> None:
    """An unknown route gives MISSING_AUTHENTICATION_TOKEN, with the status the table sets."""
    upstream.script("/nope", 404, ROUTE_NOT_FOUND)

    response = client.get("/nope")

    assert 404 == response.status_code
    assert {"error": {"code": "not_found", "message": "no such route", "details": []}} == (
        response.json()
    )


def test_other_boom_4xx_uses_default_4xx_with_the_message(
    upstream: Any, client: httpx.Client
) -> None:
    """Other Boom 4xx use DEFAULT_4XX; `$context.error.messageString` becomes a JSON string."""
    upstream.script(
        "/big",
        413,
        b'{"statusCode":413,"error":"Request Entity Too Large",'
        b'"message":"Payload content length greater than maximum allowed: 1048576"}',
    )

    response = client.post("/big", content=b"x")

    assert 413 == response.status_code
    assert {
        "error": {"code": "bad_request", "message": "Request Too Long", "details": []}
    } == response.json()


@pytest.mark.parametrize(
    ("status", "body"), [(504, b""), (502, OFFLINE_LAMBDA_ERROR), (500, b"  ")]
)
def test_offline_5xx_becomes_default_5xx(
    upstream: Any, client: httpx.Client, status: int, body: bytes
) -> None:
    """Lambda timeouts and crashes (empty 504) and integration errors use DEFAULT_5XX."""
    upstream.script("/merchant/m1/payments", status, body)

    response = client.post("/merchant/m1/payments", content=b"{}")

    assert status == response.status_code
    assert INTERNAL_ERROR_BODY == response.json()


def test_our_error_bodies_pass_through_unchanged(upstream: Any, client: httpx.Client) -> None:
    """A Lambda's own error (top-level `error` object) keeps its status, headers and bytes."""
    ours = b'{"error": {"code": "unauthorized", "message": "bad key", "details": []}}'
    upstream.script(
        "/merchant/m1/payments",
        401,
        ours,
        [("Content-Type", "application/json"), ("X-Request-Id", "r-1")],
    )

    response = client.post("/merchant/m1/payments", content=b"{}")

    assert (401, ours) == (response.status_code, response.content)
    assert "r-1" == response.headers["x-request-id"]
    assert "x-amzn-errortype" not in response.headers


def test_success_passes_through_with_headers(upstream: Any, client: httpx.Client) -> None:
    """A 201 keeps its body, Location and custom headers; hop-by-hop headers are dropped."""
    body = b'{"id": "p-1", "status": "pending"}'
    upstream.script(
        "/merchant/m1/payments",
        201,
        body,
        [
            ("Content-Type", "application/json"),
            ("Location", "/merchant/m1/payment/p-1"),
            ("Idempotent-Replayed", "true"),
            ("Keep-Alive", "timeout=5"),
        ],
    )

    response = client.post("/merchant/m1/payments", content=b"{}")

    assert (201, body) == (response.status_code, response.content)
    assert "/merchant/m1/payment/p-1" == response.headers["location"]
    assert "true" == response.headers["idempotent-replayed"]
    assert "keep-alive" not in response.headers
    assert str(len(body)) == response.headers["content-length"]


def test_request_body_reaches_upstream_byte_for_byte(upstream: Any, client: httpx.Client) -> None:
    """The body the HMAC signs (odd spacing, no newline) arrives exactly as sent."""
    raw = b'{"a":   1 ,\t"b" :"\xc3\xa9"}'

    client.post(
        "/bank/payment-updates",
        content=raw,
        headers={"Content-Type": "application/json", "X-Signature": "sha256=abc"},
    )

    assert raw == upstream.last.body
    assert "sha256=abc" == upstream.last.header("X-Signature")
    assert str(len(raw)) == upstream.last.header("Content-Length")


def test_large_body_is_forwarded_and_the_handlers_413_returned(
    upstream: Any, client: httpx.Client
) -> None:
    """A 20 KiB body is not limited by the proxy; the handler's own 413 comes back unchanged."""
    raw = b'{"reference": "' + b"x" * 20480 + b'"}'
    ours = b'{"error": {"code": "payload_too_large", "message": "too big", "details": []}}'
    upstream.script("/merchant/m1/payments", 413, ours)

    response = client.post("/merchant/m1/payments", content=raw)

    assert raw == upstream.last.body
    assert (413, ours) == (response.status_code, response.content)


def test_chunked_request_body_is_forwarded_with_a_length(
    upstream: Any, client: httpx.Client
) -> None:
    """A chunked request body reaches the upstream whole, with a Content-Length."""
    client.post("/echo", content=iter([b'{"a"', b": 1}"]))

    assert (b'{"a": 1}', "8") == (upstream.last.body, upstream.last.header("Content-Length"))
    assert None is upstream.last.header("Transfer-Encoding")


def test_method_path_query_and_headers_are_forwarded(upstream: Any, client: httpx.Client) -> None:
    """Method, path, query string (as encoded) and request headers reach the upstream."""
    client.delete(
        "/merchant/m1/payment/p?x=1&y=%20b&y=2",
        headers={"Authorization": "Bearer k", "Idempotency-Key": "i-1"},
    )

    received = upstream.last
    assert ("DELETE", "/merchant/m1/payment/p?x=1&y=%20b&y=2") == (received.method, received.target)
    assert "Bearer k" == received.header("Authorization")
    assert "i-1" == received.header("Idempotency-Key")
    assert "127.0.0.1" == received.header("X-Forwarded-For")


def test_chunked_upstream_answer_gets_a_content_length(upstream: Any, client: httpx.Client) -> None:
    """A chunked upstream answer is returned whole with a correct Content-Length."""
    body = b'{"id": "p-1", "status": "succeeded", "amount": 1050}'
    upstream.script("/merchant/m1/payment/p-1", 200, body, chunked=True)

    response = client.get("/merchant/m1/payment/p-1")

    assert (200, body) == (response.status_code, response.content)
    assert str(len(body)) == response.headers["content-length"]
    assert "transfer-encoding" not in response.headers


def test_upstream_down_gives_502_default_5xx(serverless_yml: Path) -> None:
    """With nothing listening upstream the proxy answers 502 with the DEFAULT_5XX body."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    proxy = start_edge(0, dead_port, load_gateway_responses(serverless_yml))
    try:
        response = httpx.get(f"{proxy.url}/merchant/m1/payment/p", timeout=10)
    finally:
        proxy.close()

    assert (502, INTERNAL_ERROR_BODY) == (response.status_code, response.json())


def test_without_a_table_aws_default_bodies_are_used(upstream: Any) -> None:
    """An uncustomised response type answers API Gateway's default `{"message": ...}` body."""
    upstream.script("/nope", 404, ROUTE_NOT_FOUND)
    with EdgeProxy(0, upstream.port) as proxy:
        response = httpx.get(f"{proxy.url}/nope", timeout=10)

    assert (403, {"message": "Missing Authentication Token"}) == (
        response.status_code,
        response.json(),
    )


def test_a_client_that_disconnects_does_not_stop_the_proxy(
    upstream: Any, edge: EdgeProxy, client: httpx.Client
) -> None:
    """A client gone mid-body (or mid-answer) leaves the proxy serving the next requests."""
    for request in (
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{",
        b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", edge.port)) as raw:
            raw.sendall(request)
    upstream.script("/ok", 200, b'{"ok": true}')

    responses = [client.get("/ok") for _ in range(3)]

    assert [200, 200, 200] == [response.status_code for response in responses]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, BOOM_UNAUTHORIZED, OfflineError("UNAUTHORIZED", 401, "Unauthorized")),
        (
            404,
            ROUTE_NOT_FOUND,
            OfflineError("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"),
        ),
        (504, b"", OfflineError("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")),
        (502, OFFLINE_LAMBDA_ERROR, OfflineError("DEFAULT_5XX", 502, "Internal server error")),
        (401, b'{"error": {"code": "unauthorized"}}', None),
        (400, b'{"statusCode": 400, "error": {"code": "x"}, "message": "m"}', None),
        (404, b"", None),
        (200, BOOM_UNAUTHORIZED, None),
        (500, b"not json", None),
    ],
)
def test_classify_offline_error(status: int, body: bytes, expected: OfflineError | None) -> None:
    """Only serverless-offline's own bodies are recognised; ours never are."""
    assert expected == classify_offline_error(status, body)
