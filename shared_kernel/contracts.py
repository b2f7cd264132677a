"""Contract validation: every message that crosses a boundary, checked against contracts/.

The JSON Schemas (draft 2020-12) in the repository's ``contracts/`` folder ship inside this
package as ``shared_kernel/schemas``. They are read once per process, on first use, into one
``referencing`` registry so that ``$ref``s between files resolve by ``$id`` without a network;
each schema's validator is compiled once and cached. ``jsonschema`` is imported only then, so
importing this module costs a Lambda cold start next to nothing.

Validation reports every failing field at once as ``FieldError``s: one per field, sorted by
field name, with short messages written from the schema (never from the value), so an error
can never echo a card number or CVV.

Two deliberate differences from a stock ``Draft202012Validator``:

* ``integer`` means a JSON integer literal (a Python ``int``, not ``bool``); ``1050.0`` is not
  an amount of minor units.
* ``pattern`` follows ECMA-262, as JSON Schema says: a final ``$`` matches only at the very
  end, so digits followed by a newline are not "digits only" (Python's ``$`` allows them).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from shared_kernel.domain.errors import FieldError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from referencing import Registry

__all__ = [
    "ContractViolation",
    "UnknownContract",
    "assert_valid",
    "load_schema",
    "parse_message",
    "schema_names",
    "validate",
]

BASE_URI = "https://gateway.example/contracts/"
SCHEMA_SUFFIX = ".schema.json"
ERROR_MESSAGE_KEYWORD = "x-error-message"

# When one field breaks several keywords, the lowest rank is the clearest to report.
_RANK = {
    "required": 0,
    "additionalProperties": 1,
    "unevaluatedProperties": 1,
    "type": 2,
    "const": 3,
    "enum": 3,
    "pattern": 4,
    "format": 4,
}
_OTHER_RANK = 5
_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
_TEMPLATES = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "pattern": "has an invalid format",
    "format": "must be a valid {}",
    "unevaluatedProperties": "has properties that are not allowed",
}
_LONG_DIGIT_RUN = re.compile(r"[0-9]{12,}")
_MAX_FIELD_LENGTH = 64


class ContractViolation(Exception):
    """A message broke its contract; ``details`` names every failing field."""

    def __init__(self, schema_name: str, details: list[FieldError]) -> None:
        summary = "; ".join(f"{d.field}: {d.message}" for d in details)
        super().__init__(f"{schema_name} contract violated: {summary}")
        self.schema_name = schema_name
        self.details = details


class UnknownContract(LookupError):
    """No schema of that name exists in contracts/."""


def schema_names() -> tuple[str, ...]:
    """The names of every contract (file names without ``.schema.json``), sorted."""
    return _schema_names()


def load_schema(schema_name: str) -> Mapping[str, Any]:
    """The parsed JSON Schema called ``schema_name``; shared, so never mutate it."""
    if schema_name not in _schema_names():
        known = ", ".join(_schema_names())
        raise UnknownContract(f"no contract named {schema_name!r}; known: {known}")
    return _read(schema_name)


def validate(schema_name: str, instance: object) -> list[FieldError]:
    """Every field of ``instance`` that breaks contract ``schema_name``; empty when valid."""
    validator = _validator(schema_name)
    return _field_errors(validator.iter_errors(instance))


def assert_valid(schema_name: str, instance: object) -> None:
    """Raise ``ContractViolation`` unless ``instance`` honours contract ``schema_name``."""
    details = validate(schema_name, instance)
    if details:
        raise ContractViolation(schema_name, details)


def parse_message(schema_name: str, body: str) -> dict[str, Any]:
    """The JSON object a queue message's `body` holds; ValueError (naming the contract and
    every failing field) when it is not JSON or breaks contract ``schema_name``."""
    import json

    try:
        document: object = json.loads(body)
    except ValueError:
        raise ValueError(f"{schema_name}: body is not JSON") from None
    problems = validate(schema_name, document)
    if problems:
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise ValueError(f"{schema_name} contract violated: {summary}")
    assert isinstance(document, dict)
    return document


# --- loading -------------------------------------------------------------------------------


def _schemas_dir() -> Traversable:
    from importlib.resources import files

    return files("shared_kernel") / "schemas"


@functools.cache
def _schema_names() -> tuple[str, ...]:
    names = (
        entry.name.removesuffix(SCHEMA_SUFFIX)
        for entry in _schemas_dir().iterdir()
        if entry.name.endswith(SCHEMA_SUFFIX)
    )
    return tuple(sorted(names))


@functools.cache
def _read(schema_name: str) -> dict[str, Any]:
    text = (_schemas_dir() / f"{schema_name}{SCHEMA_SUFFIX}").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _without_dialect(schema_name: str) -> dict[str, Any]:
    # jsonschema picks a validator class afresh from "$schema" whenever it enters a schema
    # that has one, which would swap our class (strict integers, ECMA patterns) for the stock
    # one behind a $ref to a whole file. Every contract is draft 2020-12, so drop the key.
    return {key: value for key, value in _read(schema_name).items() if key != "$schema"}


@functools.cache
def _registry() -> Registry:
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    resources = [
        (
            f"{BASE_URI}{name}{SCHEMA_SUFFIX}",
            DRAFT202012.create_resource(_without_dialect(name)),
        )
        for name in _schema_names()
    ]
    return Registry().with_resources(resources).crawl()


@functools.cache
def _validator(schema_name: str) -> Any:
    load_schema(schema_name)  # raises UnknownContract for a name that is not a contract
    schema = _registry().contents(f"{BASE_URI}{schema_name}{SCHEMA_SUFFIX}")
    return _validator_class()(schema, registry=_registry(), format_checker=_format_checker())


@functools.cache
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_json_integer)
    return validators.extend(
        Draft202012Validator,
        validators={"pattern": _ecma_pattern},
        type_checker=type_checker,
    )


@functools.cache
def _format_checker() -> Any:
    # Patterns do the real work; this adds only what a pattern cannot: a calendar check
    # (no 30 February), with the standard library rather than an optional package.
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("date-time")(_is_calendar_date_time)
    return checker


def _is_json_integer(_checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_calendar_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    from datetime import datetime

    try:
        datetime.fromisoformat(instance)
    except ValueError:
        return False
    return True


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _ecma_pattern(validator: Any, pattern: str, instance: object, schema: object) -> Iterator[Any]:
    if isinstance(instance, str) and not _compiled(pattern).search(instance):
        from jsonschema.exceptions import (
            ValidationError as SchemaError,
        )

        yield SchemaError("does not match the expected pattern")


# --- reporting -----------------------------------------------------------------------------


def _field_errors(errors: Iterable[Any]) -> list[FieldError]:
    best: dict[str, tuple[int, str]] = {}
    for error in errors:
        for field, rank, message in _describe(error):
            if field not in best or rank < best[field][0]:
                best[field] = (rank, message)
    return [FieldError(field, best[field][1]) for field in sorted(best)]


def _describe(error: Any) -> Iterator[tuple[str, int, str]]:
    keyword: str = error.validator
    path: list[str | int] = list(error.absolute_path)
    rank = _RANK.get(keyword, _OTHER_RANK)
    if keyword == "required" and isinstance(error.instance, Mapping):
        for name in error.validator_value:
            if name not in error.instance:
                yield _field([*path, name]), rank, "is required"
        return
    if keyword == "additionalProperties" and isinstance(error.instance, Mapping):
        for name in _additional_properties(error.instance, error.schema):
            yield _field([*path, _safe_name(name)]), rank, "is not allowed"
        return
    yield _field(path), rank, _message(error, keyword, path)


def _message(error: Any, keyword: str, path: list[str | int]) -> str:
    custom = error.schema.get(ERROR_MESSAGE_KEYWORD) if isinstance(error.schema, dict) else None
    if isinstance(custom, str):
        return custom
    value = error.validator_value
    if keyword == "type":
        if not path and value == "object":
            return "must be a JSON object"
        types = [value] if isinstance(value, str) else list(value)
        return "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in types)
    if keyword == "enum":
        return "must be one of " + ", ".join(_render(v) for v in value)
    if keyword == "const":
        return f"must be {_render(value)}"
    return _TEMPLATES.get(keyword, "is invalid").format(value)


def _additional_properties(instance: Mapping[str, object], schema: Any) -> list[str]:
    declared = schema.get("properties", {})
    patterns = [_compiled(p) for p in schema.get("patternProperties", {})]
    return [
        str(name)
        for name in instance
        if name not in declared and not any(p.search(str(name)) for p in patterns)
    ]


def _safe_name(name: str) -> str:
    # An unexpected property's name comes from the sender: keep it short and card-free.
    name = _LONG_DIGIT_RUN.sub("[digits]", name)
    if len(name) > _MAX_FIELD_LENGTH:
        name = name[: _MAX_FIELD_LENGTH - 3] + "..."
    return name


def _field(path: Iterable[str | int]) -> str:
    field = ""
    for part in path:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field or "body"


def _render(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)
