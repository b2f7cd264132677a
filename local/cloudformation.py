"""The project's one reader of its serverless.yml templates (CloudFormation in `resources:`).

The resources service's template is the single definition of every table, queue, key and
secret; the local edge (gateway responses), the integration tests and the bench all read
their resources through this module:

* `load_yaml`: YAML with CloudFormation's short tags read as their long form (`!Ref X` is
  `{"Ref": "X"}`, `!GetAtt A.Arn` is `{"Fn::GetAtt": "A.Arn"}`, `!Sub s` is `{"Fn::Sub": s}`).
* `resolve_variables`: the Serverless Framework variables `${self:...}`, `${sls:stage}`,
  `${opt:stage|region, fallback}`, `${env:NAME, fallback}` and `${file(path)}` /
  `${file(path):key}`, resolved as `serverless package` would for one stage. CloudFormation's
  own `${AWS::...}` (inside `!Sub`) and sources only a deployment knows (`${param:...}`,
  `${cf:...}`, `${ssm:...}`) are left as written.
* `resources`: a template's `resources.Resources` (fragments given as `${file(...)}`
  followed and merged), variables resolved; `gateway_resources` for the resources service,
  and `gateway_names` for the names it gives its tables, queues, key alias and secrets.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
RESOURCES_YML = ROOT / "services" / "resources" / "serverless.yml"
DYNAMODB_TABLE = "AWS::DynamoDB::Table"
SQS_QUEUE = "AWS::SQS::Queue"
# The property that names a resource of each type that the code finds by name.
_NAME_PROPERTIES = {
    DYNAMODB_TABLE: "TableName",
    SQS_QUEUE: "QueueName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::SecretsManager::Secret": "Name",
}

# `${source:address, fallback}` with no `${` inside: resolved innermost first.
_VARIABLE = re.compile(r"\$\{([^${}]+)\}")
_REFERENCE = re.compile(
    r"^\s*(?P<source>file\([^)]*\)|[A-Za-z]+)(?::(?P<address>[^,]*))?(?:,\s*(?P<fallback>.*))?$"
)
_MAX_PASSES = 20  # a variable resolving to another one; far more nesting than any template has


def _construct_tag(loader: Any, tag_suffix: str, node: Any) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    return {name: value}


class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """A YAML SafeLoader that accepts CloudFormation's short tags (`!Ref`, `!GetAtt`, ...)."""


CloudFormationLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """The document of a YAML file that may hold CloudFormation short tags."""
    with Path(path).open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader


@dataclass(frozen=True)
class Options:
    """What `serverless package --stage ... --region ...` is given: the CLI options and the
    environment `${env:...}` reads."""

    stage: str = "local"
    region: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def resolve_variables(value: Any, document: Any, base_dir: Path, options: Options) -> Any:
    """`value` (part of `document`, the serverless.yml in `base_dir`) with its Serverless
    variables resolved; strings that are one variable may resolve to any YAML value."""
    if isinstance(value, dict):
        return {k: resolve_variables(v, document, base_dir, options) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_variables(item, document, base_dir, options) for item in value]
    if not isinstance(value, str):
        return value
    for _ in range(_MAX_PASSES):
        whole = _VARIABLE.fullmatch(value.strip())
        if whole is None:
            replaced = _VARIABLE.sub(lambda m: _inline(m, document, base_dir, options), value)
            if replaced == value:
                return value
            value = replaced
            continue
        resolved = _lookup(whole.group(1), document, base_dir, options)
        if resolved is None:
            return value
        if not isinstance(resolved, str):
            return resolve_variables(resolved, document, base_dir, options)
        value = resolved
    raise ValueError(f"Serverless variables nested too deep in {value!r}")


def _inline(match: re.Match[str], document: Any, base_dir: Path, options: Options) -> str:
    resolved = _lookup(match.group(1), document, base_dir, options)
    return match.group(0) if resolved is None else str(resolved)


def _lookup(reference: str, document: Any, base_dir: Path, options: Options) -> Any:
    """The value a variable stands for, or None for one this module does not resolve."""
    parsed = _REFERENCE.match(reference)
    if parsed is None:
        return None
    source = parsed.group("source")
    address = (parsed.group("address") or "").strip()
    found: Any = None
    if source == "self":
        found = _path(document, address)
    elif source == "sls" and address == "stage":
        found = options.stage
    elif source == "opt":
        found = {"stage": options.stage, "region": options.region}.get(address)
    elif source == "env":
        found = options.environ.get(address)
    elif source.startswith("file("):
        found = load_yaml(base_dir / source[len("file(") : -1].strip())
        if address:
            found = _path(found, address)
    else:
        return None  # AWS::..., param:, cf:, ssm:: not ours to resolve
    if found is None and parsed.group("fallback") is not None:
        return _literal(parsed.group("fallback"))
    if found is None:
        raise KeyError(f"Serverless variable ${{{reference}}} has no value")
    return found


def _path(document: Any, address: str) -> Any:
    found = document
    for part in address.split(".") if address else []:
        found = found.get(part) if isinstance(found, dict) else None
    return found


def _literal(fallback: str) -> Any:
    text = fallback.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return yaml.safe_load(text)


def resources(
    serverless_yml: str | os.PathLike[str], options: Options | None = None
) -> dict[str, dict[str, Any]]:
    """The `resources.Resources` of a serverless.yml by logical id, variables resolved."""
    path = Path(serverless_yml)
    options = options or Options()
    document = load_yaml(path) or {}
    fragments = resolve_variables(document.get("resources"), document, path.parent, options)
    merged: dict[str, dict[str, Any]] = {}
    for fragment in fragments if isinstance(fragments, list) else [fragments]:
        if isinstance(fragment, dict) and isinstance(fragment.get("Resources"), dict):
            merged.update(fragment["Resources"])
    return merged


def gateway_resources(stage: str = "local") -> dict[str, dict[str, Any]]:
    """The resources service's resources (tables, queues, key, secrets) for `stage`."""
    return resources(RESOURCES_YML, Options(stage=stage))


def of_type(template: Mapping[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of one CloudFormation type, by logical id."""
    return {name: r for name, r in template.items() if r.get("Type") == kind}


@functools.cache
def gateway_names(stage: str = "local") -> Mapping[str, str]:
    """The names the resources service gives its tables, queues, key alias and secrets for
    `stage`, by logical id (read once per process)."""
    return MappingProxyType(
        {
            logical_id: str(resource["Properties"][_NAME_PROPERTIES[resource["Type"]]])
            for logical_id, resource in gateway_resources(stage).items()
            if resource.get("Type") in _NAME_PROPERTIES
        }
    )
