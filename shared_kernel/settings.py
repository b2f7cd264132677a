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
    # The key of the card-number fingerprints (HMAC); only the submit function needs it.
    card_fingerprint_key_secret_id: str = ""
    # The merchant API's Idempotency-Key records; only the submit function needs it.
    idempotency_table: str = ""
    # The payment queue's dead-letter queue; only the operator CLI's redrive needs it.
    payment_dead_letter_queue_url: str = ""
    # The forwarder's retry back-off (visibility timeout of a message to retry), in seconds.
    forward_backoff_base_s: float = 2.0
    forward_backoff_cap_s: float = 300.0
    # The reconciler (SPEC §6): when a pending or processing payment counts as stuck, the
    # back-off of its checks, and the bounds after which it gives up (see reconcile.py).
    # Submit reads `reconcile_pending_after_s` too: a new payment's first check is due then.
    reconcile_pending_after_s: float = 30.0
    reconcile_processing_after_s: float = 60.0
    reconcile_backoff_base_s: float = 60.0
    reconcile_backoff_cap_s: float = 3600.0
    reconcile_max_requeues: int = 5
    reconcile_max_checks: int = 20
    reconcile_give_up_after_s: float = 86400.0
    # How long an authorisation can be captured after the bank's AUTHORIZED (SPEC §8: 7
    # days); the callback, the forwarder and the reconciler set `capture_before` from it,
    # and the local stack shortens it for tests.
    authorization_validity_s: float = 604800.0
    # The merchants' events (SPEC §10): the recorder writes them, the merchant API reads them.
    events_table: str = ""
    # The webhook queue: the recorder fans each new event out to it.
    webhook_queue_url: str = ""
    # The merchants' webhook endpoints and the KMS key of their signing secrets (SPEC §10).
    webhook_endpoints_table: str = ""
    webhook_secret_key_id: str = ""
    # Every webhook delivery attempt (the sender writes, the merchant API reads).
    deliveries_table: str = ""
    # A factor on every wait of the webhook retry schedule (SPEC §10; local runs and tests).
    webhook_retry_scale: float = 1.0
    # Under serverless-offline (the local stack), which sets IS_OFFLINE=true.
    offline: bool = False

    @property
    def local_stage(self) -> bool:
        """The `make start` stage: webhook URLs may also be the local receiver's."""
        return self.stage == "local"

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
            secrets_ttl_s=_float(env, "SECRETS_TTL_S", 900.0),
            card_fingerprint_key_secret_id=env.get("CARD_FINGERPRINT_KEY_SECRET_ID", ""),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", ""),
            payment_dead_letter_queue_url=env.get("PAYMENT_DEAD_LETTER_QUEUE_URL", ""),
            forward_backoff_base_s=_float(env, "FORWARD_BACKOFF_BASE_S", 2.0),
            forward_backoff_cap_s=_float(env, "FORWARD_BACKOFF_CAP_S", 300.0),
            reconcile_pending_after_s=_float(env, "RECONCILE_PENDING_AFTER_S", 30.0),
            reconcile_processing_after_s=_float(env, "RECONCILE_PROCESSING_AFTER_S", 60.0),
            reconcile_backoff_base_s=_float(env, "RECONCILE_BACKOFF_BASE_S", 60.0),
            reconcile_backoff_cap_s=_float(env, "RECONCILE_BACKOFF_CAP_S", 3600.0),
            reconcile_max_requeues=int(env.get("RECONCILE_MAX_REQUEUES", "5")),
            reconcile_max_checks=int(env.get("RECONCILE_MAX_CHECKS", "20")),
            reconcile_give_up_after_s=_float(env, "RECONCILE_GIVE_UP_AFTER_S", 86400.0),
            authorization_validity_s=_float(env, "AUTHORIZATION_VALIDITY_S", 604800.0),
            events_table=env.get("EVENTS_TABLE", ""),
            webhook_queue_url=env.get("WEBHOOK_QUEUE_URL", ""),
            webhook_endpoints_table=env.get("WEBHOOK_ENDPOINTS_TABLE", ""),
            webhook_secret_key_id=env.get("WEBHOOK_SECRET_KEY_ID", ""),
            deliveries_table=env.get("DELIVERIES_TABLE", ""),
            webhook_retry_scale=_float(env, "WEBHOOK_RETRY_SCALE", 1.0),
            offline=env.get("IS_OFFLINE") == "true",
        )
