"""SecretsManagerSecrets against Secrets Manager (moto server): caching and rotation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared_kernel.adapters.secrets import SecretsManagerSecrets

from .conftest import ClientFactory, unique

pytestmark = pytest.mark.integration

TTL_S = 300.0


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(aws_client: ClientFactory) -> Any:
    """A Secrets Manager client that records the stage of each GetSecretValue call it makes
    in `.get_calls` (through botocore's event system)."""
    secretsmanager = aws_client("secretsmanager")
    secretsmanager.get_calls = []

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        # `params` is the serialised request here: the stage is in its JSON body.
        if model.name == "GetSecretValue":
            secretsmanager.get_calls.append(json.loads(params["body"]).get("VersionStage"))

    secretsmanager.meta.events.register("before-call.*", count)
    return secretsmanager


@pytest.fixture
def secret_id(client: Any) -> str:
    """A fresh secret whose value is `first`."""
    name = unique("bank-api-key")
    client.create_secret(Name=name, SecretString="first")
    return name


def test_a_cached_secret_is_read_from_secrets_manager_once(client: Any, secret_id: str) -> None:
    """Within the TTL a second get makes no Secrets Manager call."""
    secrets = SecretsManagerSecrets(client, TTL_S, clock=ManualClock())

    values = [secrets.get(secret_id), secrets.get(secret_id)]

    assert ["first", "first"] == values
    assert 1 == len(client.get_calls)


def test_an_expired_entry_is_read_again(client: Any, secret_id: str) -> None:
    """After the TTL the next get fetches the secret again and sees a new value."""
    clock = ManualClock()
    secrets = SecretsManagerSecrets(client, TTL_S, clock=clock)
    secrets.get(secret_id)
    client.put_secret_value(SecretId=secret_id, SecretString="second")

    before_expiry = secrets.get(secret_id)
    clock.now += TTL_S
    after_expiry = secrets.get(secret_id)

    assert ("first", "second") == (before_expiry, after_expiry)
    assert 2 == len(client.get_calls)


def test_versions_of_a_secret_never_rotated_are_the_current_one(
    client: Any, secret_id: str
) -> None:
    """Without an AWSPREVIOUS version, get_versions is the current value alone."""
    secrets = SecretsManagerSecrets(client, TTL_S, clock=ManualClock())

    assert ["first"] == secrets.get_versions(secret_id)


def test_after_a_rotation_versions_are_current_then_previous(client: Any, secret_id: str) -> None:
    """After PutSecretValue the previous value is still offered, for signatures made with it;
    both versions are then cached."""
    client.put_secret_value(SecretId=secret_id, SecretString="second")
    secrets = SecretsManagerSecrets(client, TTL_S, clock=ManualClock())

    first_read = secrets.get_versions(secret_id)
    second_read = secrets.get_versions(secret_id)

    assert ["second", "first"] == first_read
    assert first_read == second_read
    assert ["AWSCURRENT", "AWSPREVIOUS"] == client.get_calls
