"""Secrets from AWS Secrets Manager, cached per secret id for a time-to-live.

A warm Lambda makes no Secrets Manager call per invocation: each value is fetched once and
kept for `ttl_seconds`. During a rotation, `get_versions` returns the current and the previous
value so that a signature made with either still verifies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"


class SecretsManagerSecrets:
    """String secrets by id, each cached for `ttl_seconds` (measured on `clock`).

    Two threads missing the cache at once both fetch; the result is the same, so no lock.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    def get(self, secret_id: str) -> str:
        """The current value of a secret."""
        value = self._staged(secret_id, CURRENT)
        if value is None:
            raise LookupError(f"secret {secret_id} has no current version")
        return value

    def get_versions(self, secret_id: str) -> list[str]:
        """The current value, then the previous one if the secret has been rotated."""
        versions = [self.get(secret_id)]
        previous = self._staged(secret_id, PREVIOUS)
        if previous is not None:
            versions.append(previous)
        return versions

    def _staged(self, secret_id: str, stage: str) -> str | None:
        now = self._clock()
        cached = self._cache.get((secret_id, stage))
        if cached is not None and now < cached[0]:
            return cached[1]
        value = self._fetch(secret_id, stage)
        self._cache[(secret_id, stage)] = (now + self._ttl, value)
        return value

    def _fetch(self, secret_id: str, stage: str) -> str | None:
        try:
            answer = self._client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        except ClientError as error:
            # Only a missing AWSPREVIOUS is normal (a secret that was never rotated).
            code = error.response.get("Error", {}).get("Code")
            if stage == PREVIOUS and code == "ResourceNotFoundException":
                return None
            raise
        if "SecretString" in answer:
            return answer["SecretString"]
        raise ValueError(f"secret {secret_id} has no string value")
