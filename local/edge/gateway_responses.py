"""API Gateway's own answers ("gateway responses"), read from a serverless.yml and rendered.

In AWS, API Gateway answers some requests itself: the authorizer said Unauthorized, the route
does not exist, the integration failed or timed out. We customise those answers with
`AWS::ApiGateway::GatewayResponse` resources in each service's serverless.yml.
`load_gateway_responses` reads them into a table (through `local.cloudformation`, the
project's one template reader), and `gateway_reply` renders the answer API Gateway gives for
an error: the customised response of its type, else of its family (DEFAULT_4XX/5XX), else
API Gateway's documented default, with `$context` variables substituted as its VTL would.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.cloudformation import resources
from local.edge.offline_errors import (
    ACCESS_DENIED,
    DEFAULT_4XX,
    DEFAULT_5XX,
    MISSING_AUTHENTICATION_TOKEN,
    UNAUTHORIZED,
    OfflineError,
    default_for,
)

LOG = logging.getLogger(__name__)

GATEWAY_RESPONSE = "AWS::ApiGateway::GatewayResponse"
# What API Gateway answers when a response type is not customised (its documented defaults).
_AWS_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_AWS_ERROR_TYPE_HEADER = {
    UNAUTHORIZED: "UnauthorizedException",
    ACCESS_DENIED: "AccessDeniedException",
    MISSING_AUTHENTICATION_TOKEN: "MissingAuthenticationTokenException",
}
_CONTEXT_VARIABLE = re.compile(r"\$\{(context(?:\.\w+)+)\}|\$(context(?:\.\w+)+)")


@dataclass(frozen=True)
class GatewayResponse:
    """One customised gateway response: status (None keeps the default), headers, body template."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    template: str | None = None


@dataclass(frozen=True)
class HttpReply:
    """An HTTP answer: status, reason phrase, header list (duplicates kept) and full body."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


def as_gateway_response(entry: Mapping[str, Any]) -> GatewayResponse:
    """Normalise a table entry: `{"status", "headers", "template"}` or `{"status", "body"}`."""
    status = entry.get("status")
    template = entry.get("template")
    if template is None and "body" in entry:
        template = json.dumps(entry["body"], separators=(",", ":"))
    headers = {str(name): str(value) for name, value in (entry.get("headers") or {}).items()}
    return GatewayResponse(
        status=int(status) if status is not None else None, headers=headers, template=template
    )


def render_template(template: str, context: Mapping[str, str]) -> str:
    """Substitute `$context.x` / `${context.x}` variables the way API Gateway's VTL would."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return context.get(name, "")

    return _CONTEXT_VARIABLE.sub(substitute, template)


def gateway_reply(
    responses: Mapping[str, GatewayResponse], error: OfflineError, method: str, target: str
) -> HttpReply:
    """The answer API Gateway gives for `error`, with our customised gateway responses."""
    family = responses.get(default_for(error.status))
    specific = (
        responses.get(error.response_type)
        if error.response_type not in (DEFAULT_4XX, DEFAULT_5XX)
        else None
    )
    chosen = specific or family
    status = (
        (specific.status if specific else None) or (family.status if family else None)
    ) or error.status
    headers: dict[str, str] = {}
    for source in (family, specific):
        if source is not None:
            headers.update(source.headers)
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    request_id = str(uuid.uuid4())
    headers["x-amzn-RequestId"] = request_id
    if error.response_type in _AWS_ERROR_TYPE_HEADER:
        headers["x-amzn-ErrorType"] = _AWS_ERROR_TYPE_HEADER[error.response_type]
    template = chosen.template if chosen and chosen.template is not None else None
    context = {
        "context.error.message": json.dumps(error.message)[1:-1],
        "context.error.messageString": json.dumps(error.message),
        "context.error.responseType": error.response_type,
        "context.requestId": request_id,
        "context.extendedRequestId": request_id,
        "context.httpMethod": method,
        "context.path": target.split("?", 1)[0],
    }
    body = render_template(template or _AWS_DEFAULT_TEMPLATE, context).encode("utf-8")
    return HttpReply(status, "", list(headers.items()), body)


def load_gateway_responses(
    serverless_yml_path: str | os.PathLike[str],
) -> dict[str, dict[str, Any]]:
    """Read the `AWS::ApiGateway::GatewayResponse` resources of a serverless.yml into a table.

    Each entry: `{"status": int | None, "headers": {name: value}, "template": str | None}` and,
    when the template is plain JSON with no variables, `"body"`: the parsed JSON.
    """
    table: dict[str, dict[str, Any]] = {}
    for resource in resources(serverless_yml_path).values():
        if isinstance(resource, dict) and resource.get("Type") == GATEWAY_RESPONSE:
            properties = resource.get("Properties") or {}
            response_type = properties.get("ResponseType")
            if isinstance(response_type, str):
                table[response_type] = _gateway_response_entry(properties)
    return table


def _gateway_response_entry(properties: Mapping[str, Any]) -> dict[str, Any]:
    status_code = str(properties.get("StatusCode") or "").strip()
    status = int(status_code) if status_code.isdigit() else None
    headers: dict[str, str] = {}
    for key, value in (properties.get("ResponseParameters") or {}).items():
        prefix = "gatewayresponse.header."
        text = str(value)
        if key.startswith(prefix) and len(text) >= 2 and text[0] == text[-1] == "'":
            headers[key[len(prefix) :]] = text[1:-1]
        else:
            LOG.debug("gateway response parameter %s=%r is not a literal: ignored", key, value)
    templates = properties.get("ResponseTemplates") or {}
    template = templates.get("application/json")
    if template is None and templates:
        template = next(iter(templates.values()))
    if template is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    entry: dict[str, Any] = {"status": status, "headers": headers, "template": template}
    if isinstance(template, str) and "$" not in template:
        try:
            entry["body"] = json.loads(template)
        except ValueError:
            pass
    return entry
