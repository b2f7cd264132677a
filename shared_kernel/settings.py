"""Typed settings, read from the environment in this one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    return float(env.get(name, default))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the functions need to know about where they run.

    Names and ARNs come from the resources service's outputs (serverless-compose in AWS,
    the same names in the local stage). `aws_endpoint_url` is set only for the local
    emulator; in AWS the SDK finds its endpoints itself.
    """

    region: str
    aws_endpoint_url: str | None
    stage: str
    payments_table: str
    merchants_table: str
    payment_queue_url: str
    card_key_id: str
    bank_url: str
    bank_api_key_secret_id: str
    callback_secret_id: str
    api_key_pepper_secret_id: str
    bank_connect_timeout_s: float
    bank_read_timeout_s: float
    forward_max_attempts: int
    secrets_ttl_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from `env` (the process environment by default)."""
        env = os.environ if env is None else env
        return cls(
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "eu-west-1")),
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            stage=env.get("STAGE", "local"),
            payments_table=env["PAYMENTS_TABLE"],
            merchants_table=env["MERCHANTS_TABLE"],
            payment_queue_url=env.get("PAYMENT_QUEUE_URL", ""),
            card_key_id=env.get("CARD_KEY_ID", ""),
            bank_url=env.get("BANK_URL", "").rstrip("/"),
            bank_api_key_secret_id=env.get("BANK_API_KEY_SECRET_ID", ""),
            callback_secret_id=env.get("CALLBACK_SECRET_ID", ""),
            api_key_pepper_secret_id=env.get("API_KEY_PEPPER_SECRET_ID", ""),
            bank_connect_timeout_s=_float(env, "BANK_CONNECT_TIMEOUT_S", 2.0),
            bank_read_timeout_s=_float(env, "BANK_READ_TIMEOUT_S", 8.0),
            forward_max_attempts=int(env.get("FORWARD_MAX_ATTEMPTS", "6")),
            secrets_ttl_s=_float(env, "SECRETS_TTL_S", 300.0),
        )
