"""API Gateway's Lambda TOKEN authorizer step, with its result cache, emulated at the edge.

serverless-offline 13.9 calls the authorizer on every request and caches nothing
(events/http/createAuthScheme.js), so locally a revoked key would stop working at once,
where API Gateway keeps answering from the cached policy for the authorizer's
`resultTtlInSeconds`. The local stack therefore runs the merchant API's serverless-offline
with `--noAuth`, and the edge does API Gateway's part for every route whose serverless.yml
event names an authorizer:

* no identity source (the `identitySource` header) or an empty one: 401 UNAUTHORIZED, the
  authorizer is not called;
* else the policy cached under (authorizer, identity source value), API Gateway's cache key,
  if younger than the TTL; else the authorizer's answer through serverless-offline's Lambda
  API, cached for the TTL when it is a policy (`Unauthorized` is 401 and never cached; any
  other failure is 500 AUTHORIZER_FAILURE);
* the policy must allow the request's method ARN (an explicit Deny wins), else 403
  ACCESS_DENIED; then the request goes on with the authorizer's principal and context in
  `sls-offline-authorizer-override`, which serverless-offline puts in
  `requestContext.authorizer` (events/http/lambda-events/LambdaProxyIntegrationEvent.js).

A client's own `sls-offline-authorizer-override` is dropped on every request: API Gateway
has no such header, and serverless-offline would take it as the authorizer's context. A
request the edge does not recognise as a protected route reaches the handlers without an
authorizer context, which they refuse (401), so a mismatch fails closed.
"""

from __future__ import annotations

import fnmatch
import http.client
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.cloudformation import load_yaml
from local.edge.offline_errors import ACCESS_DENIED, UNAUTHORIZED, OfflineError

OVERRIDE_HEADER = "sls-offline-authorizer-override"
AUTHORIZER_FAILURE = "AUTHORIZER_FAILURE"
# API Gateway's TTL when an authorizer does not set resultTtlInSeconds.
DEFAULT_TTL_S = 300.0
_EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
_UNAUTHORIZED = OfflineError(UNAUTHORIZED, 401, "Unauthorized")
_FAILURE = OfflineError(AUTHORIZER_FAILURE, 500, "Internal server error")
_IDENTITY_HEADER = re.compile(r"method\.request\.header\.([A-Za-z0-9-]+)")

# An authorizer invocation: (function name, event) -> the function's result; raises
# AuthorizerFailed with the function's errorMessage when it failed.
Invoke = Callable[[str, dict[str, Any]], Any]


class AuthorizerFailed(Exception):
    """The authorizer function failed; the message is its errorMessage."""


@dataclass(frozen=True)
class Authorizer:
    """One TOKEN authorizer of a serverless.yml, as API Gateway is configured with it."""

    name: str
    function_name: str
    identity_header: str
    ttl_s: float


@dataclass(frozen=True)
class ProtectedRoute:
    """A method and path template whose requests go through an authorizer first."""

    method: str
    path: re.Pattern[str]
    authorizer: Authorizer


def path_pattern(template: str) -> re.Pattern[str]:
    """A route's path template as a regex: one segment per `{parameter}`; a trailing slash
    is ignored, as serverless-offline's router ignores it."""
    parts = re.split(r"\{[^}/]+\}", "/" + template.strip("/"))
    return re.compile(
        "".join(re.escape(p) + "[^/]+" for p in parts[:-1]) + re.escape(parts[-1]) + "/?"
    )


def load_protected_routes(
    serverless_yml: str | Path, stage: str, ttl_override_s: float | None = None
) -> list[ProtectedRoute]:
    """The routes of a serverless.yml's functions that name an authorizer, with its TTL
    (`resultTtlInSeconds`) unless `ttl_override_s` is given (tests shorten it)."""
    document = load_yaml(serverless_yml)
    service = str(document["service"])
    routes = []
    for function in (document.get("functions") or {}).values():
        for event in function.get("events") or []:
            http_event = event.get("http") if isinstance(event, dict) else None
            if not http_event or not http_event.get("authorizer"):
                continue
            config = http_event["authorizer"]
            config = {"name": config} if isinstance(config, str) else config
            source = str(config.get("identitySource") or "method.request.header.Authorization")
            header = _IDENTITY_HEADER.fullmatch(source)
            if header is None:
                raise ValueError(f"only header identity sources are emulated, not {source!r}")
            ttl = config.get("resultTtlInSeconds", DEFAULT_TTL_S)
            authorizer = Authorizer(
                name=str(config["name"]),
                function_name=f"{service}-{stage}-{config['name']}",
                identity_header=header.group(1),
                ttl_s=float(ttl if ttl_override_s is None else ttl_override_s),
            )
            path = path_pattern(str(http_event["path"]))
            routes.append(ProtectedRoute(str(http_event["method"]).upper(), path, authorizer))
    return routes


def policy_allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """Whether an IAM policy document allows execute-api:Invoke on `method_arn` (a matching
    Deny wins; resources match with `*` and `?` wildcards)."""
    allowed = False
    statements = policy.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value or "")]


@dataclass(frozen=True)
class _Cached:
    expires_at: float
    result: Mapping[str, Any]


class EdgeAuthorizer:
    """API Gateway's authorizer step for a list of protected routes (module docstring)."""

    def __init__(
        self,
        routes: list[ProtectedRoute],
        invoke: Invoke,
        *,
        region: str,
        stage: str,
        account: str = "123456789012",
        api_id: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = routes
        self._invoke = invoke
        self._arn_prefix = f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}"
        self._clock = clock
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._lock = threading.Lock()
        self.invocations = 0

    def route_of(self, method: str, target: str) -> ProtectedRoute | None:
        """The protected route a request is for, if any."""
        path = target.split("?", 1)[0]
        for route in self.routes:
            if route.method == method.upper() and route.path.fullmatch(path):
                return route
        return None

    def authorize(
        self, method: str, target: str, headers: list[tuple[str, str]]
    ) -> list[tuple[str, str]] | OfflineError:
        """The headers to forward (the client's minus any override, plus the authorizer's
        context on a protected route), or the error API Gateway answers instead."""
        forwarded = [(n, v) for n, v in headers if n.lower() != OVERRIDE_HEADER]
        route = self.route_of(method, target)
        if route is None:
            return forwarded
        authorizer = route.authorizer
        wanted = authorizer.identity_header.lower()
        token = next((v for n, v in forwarded if n.lower() == wanted), "")
        if not token.strip():
            return _UNAUTHORIZED
        method_arn = f"{self._arn_prefix}/{method.upper()}{target.split('?', 1)[0]}"
        result = self._result(authorizer, token, method_arn)
        if isinstance(result, OfflineError):
            return result
        if not policy_allows(result.get("policyDocument") or {}, method_arn):
            return OfflineError(ACCESS_DENIED, 403, _EXPLICIT_DENY)
        context = {"principalId": result["principalId"], "integrationLatency": 0}
        context.update(result.get("context") or {})
        return [*forwarded, (OVERRIDE_HEADER, json.dumps(context, separators=(",", ":")))]

    def _result(
        self, authorizer: Authorizer, token: str, method_arn: str
    ) -> Mapping[str, Any] | OfflineError:
        key = (authorizer.name, token)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now < cached.expires_at:
            return cached.result
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        with self._lock:
            self.invocations += 1
        try:
            result = self._invoke(authorizer.function_name, event)
        except AuthorizerFailed as failure:
            return _UNAUTHORIZED if str(failure) == "Unauthorized" else _FAILURE
        except (OSError, http.client.HTTPException):
            return _FAILURE
        if result == "Unauthorized":
            return _UNAUTHORIZED
        if not isinstance(result, dict) or not result.get("principalId"):
            return _FAILURE
        if authorizer.ttl_s > 0:
            with self._lock:
                self._cache[key] = _Cached(now + authorizer.ttl_s, result)
        return result


def invoke_through_offline(
    lambda_port: int, host: str = "127.0.0.1", timeout: float = 30.0
) -> Invoke:
    """Invoke a function through serverless-offline's Lambda API (RequestResponse); a
    function error raises AuthorizerFailed with its errorMessage."""

    def invoke(function_name: str, event: dict[str, Any]) -> Any:
        conn = http.client.HTTPConnection(host, lambda_port, timeout=timeout)
        try:
            conn.request(
                "POST",
                f"/2015-03-31/functions/{function_name}/invocations",
                body=json.dumps(event).encode(),
                headers={"Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = response.read()
            failed = response.getheader("X-Amz-Function-Error") or response.status >= 300
        finally:
            conn.close()
        try:
            result = json.loads(body) if body.strip() else None
        except ValueError as error:
            raise AuthorizerFailed(body[:200].decode(errors="replace")) from error
        if failed:
            message = result.get("errorMessage") if isinstance(result, dict) else None
            raise AuthorizerFailed(str(message or "authorizer failed"))
        return result

    return invoke
