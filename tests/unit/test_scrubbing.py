"""The log scrubber: every Luhn-valid 12-19 digit sequence and every CVV field is masked,
whatever logs it (our loggers, exception tracebacks, third-party libraries)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared_kernel.observability.logging import ScrubbingFormatter, get_logger
from shared_kernel.observability.scrubbing import scrub

pytestmark = pytest.mark.unit

CARD = "4242424242424242"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"card {CARD} paid", "card [CARD ****4242] paid"),
        ("card 4242 4242 4242 4242 paid", "card [CARD ****4242] paid"),
        ("card 4242-4242-4242-4242 paid", "card [CARD ****4242] paid"),
        ("amex 378282246310005", "amex [CARD ****0005]"),
        ("twelve 000000000000", "twelve [CARD ****0000]"),
        ("nineteen 6011000990139424000", "nineteen 6011000990139424000"),  # not Luhn-valid
        ("order 4242424242424241 not a card", "order 4242424242424241 not a card"),
        ("eleven digits 42424242424", "eleven digits 42424242424"),
        ("twenty digits 42424242424242424242", "twenty digits 42424242424242424242"),
        ('{"cvv": "123"}', '{"cvv": "***"}'),
        ('{"message": "{\\"cvv\\": \\"1234\\"}"}', '{"message": "{\\"cvv\\": \\"***\\"}"}'),
        ("cvv=123", "cvv=***"),
        ("CVV: 987", "CVV: ***"),
        ("{'cvc2': '555'}", "{'cvc2': '***'}"),
        ("security_code 4321", "security_code ***"),
        (
            "a uuid 3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a",
            "a uuid 3e0a9c1d-5b7f-4a2e-8c6d-9f0e1d2c3b4a",
        ),
        ("2026-11-26T10:00:00.123456Z took 1234 ms", "2026-11-26T10:00:00.123456Z took 1234 ms"),
    ],
)
def test_scrub_masks_card_numbers_and_cvvs_only(text: str, expected: str) -> None:
    """Card numbers keep only their last four, CVVs nothing; other numbers stay."""
    assert expected == scrub(text)


def test_a_botocore_style_debug_line_is_scrubbed() -> None:
    """botocore logs request bodies at DEBUG as a repr of a dict."""
    line = (
        "DEBUG botocore.endpoint Making request for OperationModel(name=PutItem) with params: "
        '{\'url_path\': \'/\', \'body\': b\'{"Item": {"card_number": {"S": "4242424242424242"}, '
        "\"cvv\": {\"S\": \"123\"}}}', 'headers': {'X-Amz-Target': 'DynamoDB_20120810.PutItem'}}"
    )

    scrubbed = scrub(line)

    assert CARD not in scrubbed
    assert "[CARD ****4242]" in scrubbed


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's output, through the scrubbing formatter, at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_an_exception_traceback_holding_a_card_number_is_scrubbed(
    captured: io.StringIO,
) -> None:
    """logger.exception renders the traceback (with the exception's message and the
    locals-free frames) into the JSON line; the card number and CVV are masked in it."""
    logger = logging.getLogger("shared_kernel.some_module")
    try:
        raise ValueError(f"card {CARD} refused, payload {{'cvv': '321'}}")
    except ValueError:
        logger.exception("forwarding failed")

    line = captured.getvalue()
    record = json.loads(line.splitlines()[0])
    assert "Traceback" in record["exception"]
    assert CARD not in line and "'321'" not in line
    assert "[CARD ****4242]" in record["exception"]


def test_third_party_and_extra_fields_are_scrubbed(captured: io.StringIO) -> None:
    """A library logger (urllib3 style, %-formatting) and `extra` fields are masked too."""
    logging.getLogger("urllib3.connectionpool").debug(
        "POST /payments body=%s", json.dumps({"card_number": CARD, "cvv": "777"})
    )
    logging.getLogger("shared_kernel.x").info("seen", extra={"card": CARD, "cvv": "888"})

    # Only these two records, without their timestamps: a timestamp's milliseconds can read
    # 777, and a background thread of another test may log at the same time.
    records = [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]
    mine = [
        {k: v for k, v in r.items() if k != "timestamp"}
        for r in records
        if str(r.get("message", "")).startswith("POST /payments body=")
        or r.get("message") == "seen"
    ]
    text = json.dumps(mine)
    assert 2 == len(mine), records
    assert CARD not in text
    assert "777" not in text and "888" not in text


def test_get_logger_routes_the_root_logger_through_the_scrubber() -> None:
    """After get_logger, every handler of the root logger formats with the scrubber."""
    get_logger("scrubbing-test")

    formatters = [type(h.formatter) for h in logging.getLogger().handlers]
    assert formatters and all(issubclass(f, ScrubbingFormatter) for f in formatters)
