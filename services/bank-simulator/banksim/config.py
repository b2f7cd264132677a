"""Simulator settings, read once from environment variables at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3002
DEFAULT_CALLBACK_URL = "http://127.0.0.1:3001/bank/payment-updates"
DEFAULT_ACTION_CALLBACK_URL = "http://127.0.0.1:3001/bank/action-updates"
# Development-only defaults, documented in the README; a real bank would never ship these.
DEFAULT_CALLBACK_SECRET = "local-dev-callback-secret-change-me"  # noqa: S105 (public dev default)
DEFAULT_API_KEY = "local-dev-bank-api-key"
DEFAULT_CALLBACK_DELAY_MS = 200
DEFAULT_CALLBACK_MAX_ATTEMPTS = 5
DEFAULT_CALLBACK_RETRY_BASE_MS = 250


class ConfigError(ValueError):
    """An environment variable holds a value the simulator cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the simulator needs to know about its surroundings."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    callback_url: str = DEFAULT_CALLBACK_URL
    action_callback_url: str = DEFAULT_ACTION_CALLBACK_URL
    callback_secret: str = DEFAULT_CALLBACK_SECRET
    api_key: str = DEFAULT_API_KEY
    callback_delay_ms: int = DEFAULT_CALLBACK_DELAY_MS
    callback_max_attempts: int = DEFAULT_CALLBACK_MAX_ATTEMPTS
    callback_retry_base_ms: int = DEFAULT_CALLBACK_RETRY_BASE_MS
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raise ConfigError if invalid."""
        env = os.environ if env is None else env
        host = env.get("BANK_SIMULATOR_HOST", DEFAULT_HOST)
        _require_loopback(host)
        callback_url = env.get("BANK_CALLBACK_URL", DEFAULT_CALLBACK_URL)
        return cls(
            host=host,
            port=_int(env, "BANK_SIMULATOR_PORT", DEFAULT_PORT, low=0, high=65535),
            callback_url=callback_url,
            action_callback_url=env.get("BANK_ACTION_CALLBACK_URL")
            or sibling_url(callback_url, "action-updates"),
            callback_secret=env.get("BANK_CALLBACK_SECRET") or DEFAULT_CALLBACK_SECRET,
            api_key=env.get("BANK_API_KEY") or DEFAULT_API_KEY,
            callback_delay_ms=_int(
                env,
                "BANK_CALLBACK_DELAY_MS",
                DEFAULT_CALLBACK_DELAY_MS,
                low=0,
                high=600_000,
            ),
            callback_max_attempts=_int(
                env,
                "BANK_CALLBACK_MAX_ATTEMPTS",
                DEFAULT_CALLBACK_MAX_ATTEMPTS,
                low=1,
                high=20,
            ),
            callback_retry_base_ms=_int(
                env,
                "BANK_CALLBACK_RETRY_BASE_MS",
                DEFAULT_CALLBACK_RETRY_BASE_MS,
                low=1,
                high=60_000,
            ),
            log_level=env.get("BANK_SIMULATOR_LOG_LEVEL", "INFO").upper(),
        )


def sibling_url(url: str, last_segment: str) -> str:
    """``url`` with its last path segment replaced: the action updates go next to the
    payment updates (``.../bank/payment-updates`` -> ``.../bank/action-updates``)."""
    return url.rstrip("/").rsplit("/", 1)[0] + "/" + last_segment


def _int(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    low: int,
    high: int,
) -> int:
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _require_loopback(host: str) -> None:
    # The simulator has unauthenticated admin endpoints (/_sim/*) and accepts card numbers, so
    # it must never be reachable from another machine: refuse anything but a loopback address.
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError as exc:
        message = f"BANK_SIMULATOR_HOST must be a loopback IP: {host!r}"
        raise ConfigError(message) from exc
    if not loopback:
        raise ConfigError(f"BANK_SIMULATOR_HOST must be a loopback IP: {host!r}")
