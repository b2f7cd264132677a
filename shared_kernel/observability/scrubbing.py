"""Card-data scrubbing for log output: no card number or CVV leaves a process in a log line."""

from __future__ import annotations

import re

from shared_kernel.domain.card import luhn_valid

# Runs of 12-19 digits, optionally split by single spaces or dashes (as people type cards).
_CARD_LIKE = re.compile(r"(?<![0-9])(?:[0-9][ -]?){11,18}[0-9](?![0-9])")
# A CVV field (cvv, cvv2, cvc, csc, security_code) in JSON (`"cvv": "123"`), in JSON inside
# a JSON log line (`\"cvv\": \"123\"`), a repr/kwargs (`cvv='123'`) or prose (`cvv 123`).
_QUOTE = r"""(?:\\*["'])?"""
_CVV_FIELD = re.compile(
    rf"""(?i)({_QUOTE}(?:cvv2?|cvc2?|csc|security[_ -]?code){_QUOTE}\s*[:=]?\s*{_QUOTE})"""
    r"([0-9]{3,4})(?![0-9])"
)


def _mask_card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"[ -]", "", text)
    if 12 <= len(digits) <= 19 and luhn_valid(digits):
        return "[CARD ****" + digits[-4:] + "]"
    return text


def scrub(text: str) -> str:
    """`text` with Luhn-valid card numbers masked to their last four and CVV values hidden."""
    if not any(c.isdigit() for c in text):
        return text
    return _CVV_FIELD.sub(r"\1***", _CARD_LIKE.sub(_mask_card, text))
