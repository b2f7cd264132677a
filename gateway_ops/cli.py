"""`gateway-ops`: the operator commands. Each one parses its arguments, calls one use case
through the composition root for the chosen stage, and prints one JSON line.

    gateway-ops --stage local merchant create "Demo shop"
    gateway-ops --stage prod --profile payments-ops merchant rotate-key <id> --grace-hours 24
    gateway-ops --stage prod reconcile --bank-url https://bank.example
    gateway-ops --stage prod payment show <payment id>
    gateway-ops --stage prod dlq redrive [--limit 100]

Errors (an unknown merchant or payment, a missing stack, AWS refusing) print one line on
stderr and exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import click
from botocore.exceptions import BotoCoreError, ClientError

from gateway_ops.stages import connect
from shared_kernel.api.merchant import payment_resource
from shared_kernel.application.errors import QueueUnavailable
from shared_kernel.bootstrap import Gateway, build_gateway
from shared_kernel.domain.errors import PaymentNotFound


@dataclass
class Target:
    """The stage the command runs on; connected when the first use case is needed."""

    stage: str
    profile: str | None
    region: str | None

    def gateway(self, bank_url: str | None = None) -> Gateway:
        """The composition root for this stage's resources."""
        stage = connect(self.stage, self.profile, self.region, bank_url)
        return build_gateway(stage.settings, stage.session)


def emit(document: dict[str, Any]) -> None:
    """One JSON line on stdout."""
    click.echo(json.dumps(document))


@contextmanager
def operator_errors() -> Iterator[None]:
    """Expected failures as a one-line message and exit status 1, not a traceback."""
    try:
        yield
    except PaymentNotFound as error:
        raise click.ClickException(f"no payment {error}") from error
    except (LookupError, ValueError, QueueUnavailable) as error:
        raise click.ClickException(str(error)) from error
    except (BotoCoreError, ClientError) as error:
        raise click.ClickException(f"AWS: {error}") from error


@click.group()
@click.option("--stage", required=True, help="The stage: `local` (make start) or an AWS stage.")
@click.option("--profile", help="AWS profile (default: botocore's credential chain).")
@click.option("--region", help="AWS region (default: the profile's or AWS_REGION).")
@click.pass_context
def main(ctx: click.Context, stage: str, profile: str | None, region: str | None) -> None:
    """Operate the payment gateway on one stage."""
    ctx.obj = Target(stage, profile, region)


@main.group()
def merchant() -> None:
    """Merchants and their API keys."""


@merchant.command("create")
@click.argument("name")
@click.pass_obj
def merchant_create(target: Target, name: str) -> None:
    """Register merchant NAME; prints its id and API key (shown this once)."""
    if not name.strip():
        raise click.UsageError("the merchant needs a name")
    with operator_errors():
        created = target.gateway().register_merchant(name.strip())
    emit({"merchant_id": str(created.merchant_id), "api_key": created.api_key})


@merchant.command("rotate-key")
@click.argument("merchant_id", type=click.UUID)
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="How long the earlier keys keep working.",
)
@click.pass_obj
def merchant_rotate_key(target: Target, merchant_id: UUID, grace_hours: float) -> None:
    """Issue a new API key for MERCHANT_ID; the earlier ones stop after the grace period."""
    with operator_errors():
        rotated = target.gateway().rotate_merchant_key(merchant_id, timedelta(hours=grace_hours))
    emit(
        {
            "merchant_id": str(rotated.merchant_id),
            "api_key": rotated.api_key,
            "earlier_keys": rotated.earlier_keys,
            "earlier_keys_revoked_at": rotated.earlier_keys_revoked_at.isoformat(),
        }
    )


@main.command()
@click.option(
    "--bank-url",
    envvar="BANK_URL",
    help="The acquiring bank's API (AWS stages; the local stage uses the simulator).",
)
@click.pass_obj
def reconcile(target: Target, bank_url: str | None) -> None:
    """One reconciler pass now; prints what it did, by count."""
    with operator_errors():
        gateway = target.gateway(bank_url)
        if not gateway.settings.bank_url:
            raise click.UsageError("an AWS stage needs --bank-url (or BANK_URL)")
        report = gateway.reconcile()
    emit(asdict(report))


@main.group()
def payment() -> None:
    """Payments."""


@payment.command("show")
@click.argument("payment_id", type=click.UUID)
@click.pass_obj
def payment_show(target: Target, payment_id: UUID) -> None:
    """Print payment PAYMENT_ID as the merchant API shows it (last4 and brand of the card)."""
    with operator_errors():
        found = target.gateway().look_up_payment(payment_id)
    emit(payment_resource(found))


@main.group()
def dlq() -> None:
    """The payment queue's dead-letter queue."""


@dlq.command("redrive")
@click.option("--limit", type=click.IntRange(min=1), help="Move at most this many messages.")
@click.pass_obj
def dlq_redrive(target: Target, limit: int | None) -> None:
    """Move the dead-letter queue's messages back to the payment queue (at least once)."""
    with operator_errors():
        report = target.gateway().redrive_dead_letters(limit)
    emit(asdict(report))
