"""The one composition root: settings in, wired use cases out.

Handlers call `gateway()` on their first invocation; it builds the AWS clients and the use
cases once per cold start (lazily, never at import) and returns the same object after.
Tests build their own with `build_gateway(settings)` or wire fakes directly.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shared_kernel.settings import Settings

if TYPE_CHECKING:
    from shared_kernel.adapters.bank.client import HttpAcquiringBank
    from shared_kernel.adapters.dynamodb.deliveries import DynamoDeliveryLog
    from shared_kernel.adapters.dynamodb.events import DynamoEventStore
    from shared_kernel.adapters.dynamodb.idempotency import DynamoIdempotencyStore
    from shared_kernel.adapters.dynamodb.merchants import DynamoMerchantDirectory
    from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository
    from shared_kernel.adapters.dynamodb.tables import DynamoTables
    from shared_kernel.adapters.dynamodb.webhook_endpoints import DynamoWebhookEndpoints
    from shared_kernel.adapters.kms_webhook_secrets import KmsSecretSealer
    from shared_kernel.adapters.secrets import SecretsManagerSecrets
    from shared_kernel.application.apply_action_update import ApplyActionUpdate
    from shared_kernel.application.apply_bank_update import ApplyBankUpdate
    from shared_kernel.application.deliver_webhooks import DeliverToEndpoint, FanOutEvent
    from shared_kernel.application.event_deliveries import ListDeliveries, ResendEvent
    from shared_kernel.application.forward_action import ForwardAction
    from shared_kernel.application.forward_delivery import ForwardDelivery
    from shared_kernel.application.forward_payment import ForwardPayment
    from shared_kernel.application.get_action import GetAction, ListActions
    from shared_kernel.application.get_payment import GetPayment, LookUpPayment
    from shared_kernel.application.idempotent_submit import IdempotentSubmit
    from shared_kernel.application.list_events import GetEvent, ListEvents
    from shared_kernel.application.list_payments import ListPayments
    from shared_kernel.application.merchant_keys import (
        AuthenticateMerchant,
        RegisterMerchant,
        RotateMerchantKey,
    )
    from shared_kernel.application.ports import (
        AcquiringBank,
        BankActions,
        CardCipher,
        CardFingerprinter,
        Metrics,
        PaymentQueue,
    )
    from shared_kernel.application.reconcile import Reconcile
    from shared_kernel.application.record_events import RecordEvents
    from shared_kernel.application.redrive_dead_letters import RedriveDeadLetters
    from shared_kernel.application.request_action import (
        RequestCapture,
        RequestRefund,
        RequestVoid,
    )
    from shared_kernel.application.submit_once_per_key import SubmitOncePerKey
    from shared_kernel.application.submit_payment import SubmitPayment
    from shared_kernel.application.webhook_endpoints import (
        CreateWebhookEndpoint,
        DeleteWebhookEndpoint,
        ListWebhookEndpoints,
        RotateWebhookSecret,
        SecretWrites,
    )
    from shared_kernel.application.webhook_ports import UrlGuard, WebhookQueue
    from shared_kernel.domain.webhook_url import CheckedUrl


class SystemClock:
    """The real clock, UTC."""

    def now(self) -> datetime:
        """Now, timezone-aware UTC."""
        return datetime.now(UTC)


def new_uuid() -> uuid.UUID:
    """A random UUID4."""
    return uuid.uuid4()


@dataclass
class Gateway:
    """Use cases wired to AWS adapters; each piece is built on first use only, so a
    function pays at cold start only for the clients it needs."""

    settings: Settings
    # The botocore session the clients come from (the operator CLI passes one with its
    # --profile); by default one of the Gateway's own, on the default credential chain.
    session: Any = None

    def __post_init__(self) -> None:
        self.clock = SystemClock()

    def client(self, service: str, **config_options: Any) -> Any:
        """A botocore client for `service`, sharing one botocore session; short timeouts,
        three retries (`config_options` add to the botocore Config).

        botocore rather than boto3: the clients are the same, and not importing boto3 (its
        resources and s3transfer) takes ≈20 ms off every cold start.
        """
        from botocore.config import Config

        from shared_kernel.observability.tracing import instrument

        if self.session is None:
            # The DynamoDB connection's session: one botocore session per cold start (each
            # loads credentials, endpoint rules and data files of its own).
            self.session = self.dynamodb.connection.session
        config = Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 3, "mode": "standard"},
            **config_options,
        )
        client = self.session.create_client(
            service,
            region_name=self.settings.region,
            endpoint_url=self.settings.aws_endpoint_url,
            config=config,
        )
        instrument(client)
        return client

    @cached_property
    def metrics(self) -> Metrics:
        """Business and bank metrics as EMF lines, flushed by each handler's
        `@metrics.log_metrics` (shared_kernel/observability/metrics.py)."""
        from shared_kernel.observability.metrics import PowertoolsMetrics

        return PowertoolsMetrics()

    @cached_property
    def operator_metrics(self) -> Metrics:
        """Metrics of an operator's command (`dlq redrive`), put with CloudWatch's API: a
        process outside Lambda has no log shipping to turn EMF lines into metrics."""
        from shared_kernel.observability.metrics import CloudWatchMetrics

        return CloudWatchMetrics(self.client("cloudwatch"), "operator", self.settings.stage)

    @cached_property
    def secrets(self) -> SecretsManagerSecrets:
        """Secrets Manager, cached per secret for `secrets_ttl_s`."""
        from shared_kernel.adapters.secrets import SecretsManagerSecrets

        return SecretsManagerSecrets(self.client("secretsmanager"), self.settings.secrets_ttl_s)

    @cached_property
    def payments(self) -> DynamoPaymentRepository:
        """The payments table."""
        from shared_kernel.adapters.dynamodb.payments import DynamoPaymentRepository

        return DynamoPaymentRepository(self.dynamodb, self.settings.payments_table)

    @cached_property
    def merchants(self) -> DynamoMerchantDirectory:
        """The merchants table (merchants and their API key hashes)."""
        from shared_kernel.adapters.dynamodb.merchants import DynamoMerchantDirectory

        return DynamoMerchantDirectory(self.dynamodb, self.settings.merchants_table)

    @cached_property
    def idempotency(self) -> DynamoIdempotencyStore:
        """The idempotency table (the merchant API's Idempotency-Key records)."""
        from shared_kernel.adapters.dynamodb.idempotency import DynamoIdempotencyStore

        return DynamoIdempotencyStore(self.dynamodb, self.settings.idempotency_table)

    @cached_property
    def events(self) -> DynamoEventStore:
        """The events table (the merchants' events, SPEC §10)."""
        from shared_kernel.adapters.dynamodb.events import DynamoEventStore

        return DynamoEventStore(self.dynamodb, self.settings.events_table)

    @cached_property
    def webhook_queue(self) -> WebhookQueue:
        """The webhook queue (SQS) between the recorder and the webhook sender."""
        from shared_kernel.adapters.sqs_webhooks import SqsWebhookQueue

        return SqsWebhookQueue(self.client("sqs"), self.settings.webhook_queue_url)

    @cached_property
    def record_events(self) -> RecordEvents:
        """Use case: record the events of a payment change, fan each out (the recorder)."""
        from shared_kernel.api.events import event_body
        from shared_kernel.application.record_events import RecordEvents

        return RecordEvents(self.events, self.webhook_queue, event_body, self.metrics)

    @cached_property
    def list_events(self) -> ListEvents:
        """Use case: one page of a merchant's events."""
        from shared_kernel.application.list_events import ListEvents

        return ListEvents(self.events, self.clock)

    @cached_property
    def get_event(self) -> GetEvent:
        """Use case: read one of a merchant's events."""
        from shared_kernel.application.list_events import GetEvent

        return GetEvent(self.events)

    @cached_property
    def dynamodb(self) -> DynamoTables:
        """This Gateway's one PynamoDB connection, which every table adapter sends through
        (one botocore session and one DynamoDB client, those of this Gateway only)."""
        from shared_kernel.adapters.dynamodb.tables import DynamoTables
        from shared_kernel.observability.tracing import instrument

        # A session handed in (the operator CLI's, e.g. with a --profile) lends its
        # credentials to the connection, which otherwise makes its own session.
        credentials = None if self.session is None else self.session.get_credentials()
        tables = DynamoTables(self.settings.region, self.settings.aws_endpoint_url, credentials)
        # Made now, not on the first request: the forwarder's threads then share one client
        # instead of each making its own at the same time.
        instrument(tables.connection.client)
        return tables

    @cached_property
    def queue(self) -> PaymentQueue:
        """The payment queue (SQS)."""
        from shared_kernel.adapters.sqs import SqsPaymentQueue

        return SqsPaymentQueue(self.client("sqs"), self.settings.payment_queue_url)

    @cached_property
    def cipher(self) -> CardCipher:
        """KMS envelope encryption of card data."""
        from shared_kernel.adapters.kms import KmsEnvelopeCipher

        return KmsEnvelopeCipher(
            self.client("kms"), self.settings.card_key_id, stage=self.settings.stage
        )

    @cached_property
    def bank(self) -> AcquiringBank:
        """The acquiring bank's payments API."""
        return self.bank_client

    @cached_property
    def bank_actions(self) -> BankActions:
        """The acquiring bank's captures, voids and refunds (SPEC §8): the same client as
        `bank`, so both share one connection pool, key and timeouts."""
        return self.bank_client

    @cached_property
    def bank_client(self) -> HttpAcquiringBank:
        """The acquiring bank's HTTP API; its key is read from Secrets Manager when used."""
        from shared_kernel.adapters.bank.client import HttpAcquiringBank

        s = self.settings
        return HttpAcquiringBank(
            s.bank_url,
            lambda: self.secrets.get(s.bank_api_key_secret_id),
            s.bank_connect_timeout_s,
            s.bank_read_timeout_s,
            metrics=self.metrics,
        )

    @property
    def authorization_validity(self) -> timedelta:
        """How long an authorisation can be captured (AUTHORIZATION_VALIDITY_S)."""
        return timedelta(seconds=self.settings.authorization_validity_s)

    @cached_property
    def api_key_pepper(self) -> bytes:
        """The secret key of the API-key hashes."""
        return self.secrets.get(self.settings.api_key_pepper_secret_id).encode()

    def callback_secrets(self) -> list[str]:
        """The bank-callback signing secrets in force: current first, then previous."""
        return self.secrets.get_versions(self.settings.callback_secret_id)

    @cached_property
    def submit_payment(self) -> SubmitPayment:
        """Use case: submit a payment."""
        from shared_kernel.application.submit_payment import SubmitPayment

        return SubmitPayment(
            self.payments,
            self.queue,
            self.cipher,
            self.clock,
            new_uuid,
            self.card_fingerprint,
            first_check_after=timedelta(seconds=self.settings.reconcile_pending_after_s),
            metrics=self.metrics,
        )

    @cached_property
    def card_fingerprint(self) -> CardFingerprinter | None:
        """Keyed fingerprints of card numbers (None where no fingerprint key is configured)."""
        from shared_kernel.adapters.fingerprint import HmacCardFingerprinter

        secret_id = self.settings.card_fingerprint_key_secret_id
        if not secret_id:
            return None
        return HmacCardFingerprinter(lambda: self.secrets.get(secret_id))

    @cached_property
    def idempotent_submit(self) -> IdempotentSubmit:
        """Use case: run a submission once per (merchant, Idempotency-Key), replay after;
        its request hashes are keyed with the API-key pepper."""
        from shared_kernel.application.idempotent_submit import IdempotentSubmit

        return IdempotentSubmit(self.idempotency, self.clock, new_uuid, self.api_key_pepper)

    @cached_property
    def submit_once_per_key(self) -> SubmitOncePerKey:
        """Use case: submit a payment, once per Idempotency-Key when the request has one (the
        idempotency store is built on the first request with a key)."""
        from shared_kernel.application.submit_once_per_key import SubmitOncePerKey

        return SubmitOncePerKey(
            self.submit_payment, self.get_payment, idempotent=lambda: self.idempotent_submit
        )

    def _action_parts(self) -> dict[str, Any]:
        # What every action request takes; the idempotency use case only once a request
        # comes with a key.
        return {
            "repository": self.payments,
            "queue": self.queue,
            "clock": self.clock,
            "new_id": new_uuid,
            "idempotent": lambda: self.idempotent_submit,
            "metrics": self.metrics,
        }

    @cached_property
    def request_capture(self) -> RequestCapture:
        """Use case: capture an authorised payment (SPEC §8)."""
        from shared_kernel.application.request_action import RequestCapture

        return RequestCapture(**self._action_parts())

    @cached_property
    def request_void(self) -> RequestVoid:
        """Use case: void an authorised payment (SPEC §8)."""
        from shared_kernel.application.request_action import RequestVoid

        return RequestVoid(**self._action_parts())

    @cached_property
    def request_refund(self) -> RequestRefund:
        """Use case: refund a succeeded payment (SPEC §8)."""
        from shared_kernel.application.request_action import RequestRefund

        return RequestRefund(**self._action_parts())

    @cached_property
    def get_action(self) -> GetAction:
        """Use case: read one of a payment's actions."""
        from shared_kernel.application.get_action import GetAction

        return GetAction(self.payments)

    @cached_property
    def list_actions(self) -> ListActions:
        """Use case: a payment's actions, oldest first."""
        from shared_kernel.application.get_action import ListActions

        return ListActions(self.payments)

    @cached_property
    def get_payment(self) -> GetPayment:
        """Use case: read a payment."""
        from shared_kernel.application.get_payment import GetPayment

        return GetPayment(self.payments)

    @cached_property
    def list_payments(self) -> ListPayments:
        """Use case: one page of a merchant's payments."""
        from shared_kernel.application.list_payments import ListPayments

        return ListPayments(self.payments)

    @cached_property
    def look_up_payment(self) -> LookUpPayment:
        """Use case: an operator reads any payment."""
        from shared_kernel.application.get_payment import LookUpPayment

        return LookUpPayment(self.payments)

    @cached_property
    def redrive_dead_letters(self) -> RedriveDeadLetters:
        """Use case: move the dead-letter queue's messages back to the payment queue."""
        from shared_kernel.adapters.sqs_dead_letters import SqsDeadLetterQueue
        from shared_kernel.application.redrive_dead_letters import RedriveDeadLetters

        s = self.settings
        queue = SqsDeadLetterQueue(
            self.client("sqs"), s.payment_dead_letter_queue_url, s.payment_queue_url
        )
        return RedriveDeadLetters(queue, self.operator_metrics)

    @cached_property
    def forward_payment(self) -> ForwardPayment:
        """Use case: forward a payment to the bank."""
        from shared_kernel.application.forward_payment import ForwardPayment

        return ForwardPayment(
            self.payments,
            self.bank,
            self.cipher,
            self.clock,
            self.metrics,
            retry_horizon=self.forward_retry_horizon,
            authorization_validity=self.authorization_validity,
            lease=self.forward_lease,
        )

    @property
    def forward_lease(self) -> timedelta:
        """How long a delivery holds a payment's forward lease."""
        s = self.settings
        # An attempt runs at most two bank calls' timeouts (submit, then the status query of a
        # final attempt); the lease covers them with 10 s of margin for the writes around them.
        return timedelta(seconds=2 * (s.bank_connect_timeout_s + s.bank_read_timeout_s) + 10)

    @property
    def forward_retry_horizon(self) -> timedelta:
        """How long after a failed forward attempt its retry may still be running."""
        s = self.settings
        # The next delivery waits at most the back-off cap, and runs at most two bank calls'
        # timeouts (submit, then the status query of a final attempt); 10 s of slack for the
        # event source's batching window and scheduling.
        horizon = s.forward_backoff_cap_s + 2 * (s.bank_connect_timeout_s + s.bank_read_timeout_s)
        return timedelta(seconds=horizon + 10)

    @cached_property
    def forward_action(self) -> ForwardAction:
        """Use case: forward a capture, void or refund to the bank."""
        from shared_kernel.application.forward_action import ForwardAction

        return ForwardAction(
            self.payments,
            self.bank_actions,
            self.clock,
            self.metrics,
            retry_horizon=self.forward_retry_horizon,
        )

    @cached_property
    def forward_delivery(self) -> ForwardDelivery:
        """Use case: one delivery of a queued payment, done or retried after the back-off."""
        from shared_kernel.application.backoff import Backoff
        from shared_kernel.application.forward_action import ForwardQueued
        from shared_kernel.application.forward_delivery import ForwardDelivery

        s = self.settings
        return ForwardDelivery(
            ForwardQueued(self.forward_payment, lambda: self.forward_action),
            Backoff(s.forward_backoff_base_s, s.forward_backoff_cap_s),
            s.forward_max_attempts,
            self.metrics,
        )

    @cached_property
    def apply_bank_update(self) -> ApplyBankUpdate:
        """Use case: apply a bank callback."""
        from shared_kernel.application.apply_bank_update import ApplyBankUpdate

        return ApplyBankUpdate(
            self.payments,
            self.clock,
            self.metrics,
            authorization_validity=self.authorization_validity,
        )

    @cached_property
    def apply_action_update(self) -> ApplyActionUpdate:
        """Use case: apply a bank callback about an action."""
        from shared_kernel.application.apply_action_update import ApplyActionUpdate

        return ApplyActionUpdate(self.payments, self.clock, self.metrics)

    @cached_property
    def reconcile(self) -> Reconcile:
        """Use case: one reconciler pass."""
        from shared_kernel.application.backoff import Backoff
        from shared_kernel.application.reconcile import Reconcile

        s = self.settings
        return Reconcile(
            self.payments,
            self.queue,
            self.bank,
            self.clock,
            forward=lambda: self.forward_payment,
            pending_after=timedelta(seconds=s.reconcile_pending_after_s),
            processing_after=timedelta(seconds=s.reconcile_processing_after_s),
            backoff=Backoff(s.reconcile_backoff_base_s, s.reconcile_backoff_cap_s),
            max_requeues=s.reconcile_max_requeues,
            max_checks=s.reconcile_max_checks,
            give_up_after=timedelta(seconds=s.reconcile_give_up_after_s),
            metrics=self.metrics,
            bank_actions=self.bank_actions,
            new_id=new_uuid,
            authorization_validity=self.authorization_validity,
        )

    @cached_property
    def authenticate_merchant(self) -> AuthenticateMerchant:
        """Use case: resolve an API key."""
        from shared_kernel.application.merchant_keys import AuthenticateMerchant

        return AuthenticateMerchant(self.merchants, self.api_key_pepper)

    @cached_property
    def unauthorized(self) -> Callable[[], Any]:
        """The authorizer's 401: raising in AWS, the sentinel under serverless-offline."""
        if self.settings.offline:
            from shared_kernel.adapters import offline

            return offline.unauthorized
        from shared_kernel.api import authorizer

        return authorizer.unauthorized

    @cached_property
    def rotate_merchant_key(self) -> RotateMerchantKey:
        """Use case: issue a new API key, revoke the earlier ones after a grace period."""
        from shared_kernel.application.merchant_keys import RotateMerchantKey

        return RotateMerchantKey(self.merchants, self.api_key_pepper, self.clock)

    @cached_property
    def register_merchant(self) -> RegisterMerchant:
        """Use case: create a merchant and its API key."""
        from shared_kernel.application.merchant_keys import RegisterMerchant

        return RegisterMerchant(self.merchants, self.api_key_pepper, self.clock, new_uuid)

    # -- webhook endpoints (SPEC §10) ----------------------------------------------------

    @cached_property
    def webhook_secret_sealer(self) -> KmsSecretSealer:
        """KMS encryption of webhook signing secrets (the merchant API may only seal)."""
        from shared_kernel.adapters.kms_webhook_secrets import KmsSecretSealer

        s = self.settings
        return KmsSecretSealer(self.client("kms"), s.webhook_secret_key_id, stage=s.stage)

    @cached_property
    def webhook_endpoints(self) -> DynamoWebhookEndpoints:
        """The endpoints table: the merchant API's registry and the sender's port."""
        from shared_kernel.adapters.dynamodb.webhook_endpoints import DynamoWebhookEndpoints

        return DynamoWebhookEndpoints(
            self.dynamodb, self.settings.webhook_endpoints_table, self.webhook_secret_sealer
        )

    def check_webhook_url(self, url: str) -> CheckedUrl:
        """The stage's URL rules (the system resolver); raises UnsafeUrl."""
        from shared_kernel.adapters.dns import resolve_addresses
        from shared_kernel.domain.webhook_url import check_webhook_url

        return check_webhook_url(
            url, local_stage=self.settings.local_stage, resolve=resolve_addresses
        )

    @cached_property
    def webhook_secret_writes(self) -> SecretWrites:
        """What creating an endpoint and rotating its secret share (the Idempotency-Key
        use case is the payments')."""
        from shared_kernel.application.webhook_endpoints import SecretWrites

        return SecretWrites(
            self.webhook_endpoints,
            self.webhook_secret_sealer,
            self.clock,
            new_uuid,
            idempotent=lambda: self.idempotent_submit,
        )

    @cached_property
    def create_webhook_endpoint(self) -> CreateWebhookEndpoint:
        """Use case: a new endpoint and its first secret (once per Idempotency-Key)."""
        from shared_kernel.application.webhook_endpoints import CreateWebhookEndpoint

        return CreateWebhookEndpoint(self.webhook_secret_writes)

    @cached_property
    def rotate_webhook_secret(self) -> RotateWebhookSecret:
        """Use case: a new secret for an endpoint, the previous one live for the overlap."""
        from shared_kernel.application.webhook_endpoints import RotateWebhookSecret

        return RotateWebhookSecret(self.webhook_secret_writes)

    @cached_property
    def list_webhook_endpoints(self) -> ListWebhookEndpoints:
        """Use case: a merchant's endpoints."""
        from shared_kernel.application.webhook_endpoints import ListWebhookEndpoints

        return ListWebhookEndpoints(self.webhook_endpoints)

    @cached_property
    def delete_webhook_endpoint(self) -> DeleteWebhookEndpoint:
        """Use case: delete an endpoint."""
        from shared_kernel.application.webhook_endpoints import DeleteWebhookEndpoint

        return DeleteWebhookEndpoint(self.webhook_endpoints)

    # -- webhook delivery (SPEC §10) -----------------------------------------------------

    @cached_property
    def url_guard(self) -> UrlGuard:
        """The SSRF check of a webhook URL at each delivery: the registration's rules again
        (DNS can change), answering the addresses to connect to."""
        from shared_kernel.application.webhook_ports import UnsafeUrl
        from shared_kernel.domain import webhook_url

        def guard(url: str) -> tuple[str, ...]:
            try:
                return self.check_webhook_url(url).addresses
            except webhook_url.UnsafeUrl as refused:
                raise UnsafeUrl(str(refused)) from refused

        return guard

    @cached_property
    def delivery_log(self) -> DynamoDeliveryLog:
        """The deliveries table (every webhook delivery attempt)."""
        from shared_kernel.adapters.dynamodb.deliveries import DynamoDeliveryLog

        return DynamoDeliveryLog(self.dynamodb, self.settings.deliveries_table)

    @cached_property
    def fan_out_event(self) -> FanOutEvent:
        """Use case: queue attempt 1 of an event at each subscribed endpoint."""
        from shared_kernel.application.deliver_webhooks import FanOutEvent

        return FanOutEvent(self.events, self.webhook_endpoints, self.webhook_queue)

    @cached_property
    def deliver_to_endpoint(self) -> DeliverToEndpoint:
        """Use case: one signed attempt at one endpoint, then the schedule's next step."""
        from shared_kernel.adapters.webhook_http import HttpWebhookPoster
        from shared_kernel.application.deliver_webhooks import DeliverToEndpoint
        from shared_kernel.application.webhook_schedule import RetrySchedule

        return DeliverToEndpoint(
            self.events,
            self.webhook_endpoints,
            self.webhook_queue,
            self.delivery_log,
            self.url_guard,
            HttpWebhookPoster(),
            self.clock,
            RetrySchedule(self.settings.webhook_retry_scale),
            self.metrics,
        )

    @cached_property
    def list_deliveries(self) -> ListDeliveries:
        """Use case: the attempts of a merchant's event."""
        from shared_kernel.application.event_deliveries import ListDeliveries

        return ListDeliveries(self.events, self.delivery_log)

    @cached_property
    def resend_event(self) -> ResendEvent:
        """Use case: one attempt now, outside the schedule."""
        from shared_kernel.application.event_deliveries import ResendEvent

        return ResendEvent(
            self.events, self.webhook_endpoints, self.webhook_queue, self.delivery_log
        )


_lock = threading.Lock()
_gateway: Gateway | None = None


def build_gateway(settings: Settings, session: Any = None) -> Gateway:
    """A new, independent Gateway for `settings` (its clients from `session` if given)."""
    return Gateway(settings, session)


def gateway() -> Gateway:
    """The process's Gateway, built from the environment on first call."""
    global _gateway
    if _gateway is None:
        with _lock:
            if _gateway is None:
                _gateway = build_gateway(Settings.from_env())
    return _gateway
