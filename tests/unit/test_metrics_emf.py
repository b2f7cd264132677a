"""The EMF lines a payment writes to stdout through Powertools Metrics (no CloudWatch call)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.metrics import Metrics

from shared_kernel.application.apply_bank_update import ApplyBankUpdate, BankUpdate
from shared_kernel.application.forward_payment import ForwardPayment
from shared_kernel.application.ports import QueuedPayment
from shared_kernel.application.submit_payment import SubmitPayment
from shared_kernel.observability.metrics import NAMESPACE, PowertoolsMetrics

from .builders import CREATED_AT, INSUFFICIENT_FUNDS, MERCHANT_ID, SPEC_BODY, body
from .fakes import (
    FixedClock,
    InMemoryPaymentQueue,
    InMemoryPaymentRepository,
    ReversibleCipher,
    ScriptedBank,
    SequentialIds,
)

pytestmark = pytest.mark.unit


def emf_lines(text: str) -> list[dict[str, Any]]:
    """The EMF documents among stdout's lines."""
    documents = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" in d]


def metrics_of(document: dict[str, Any]) -> dict[str, tuple[Any, list[str]]]:
    """Each metric of an EMF document: (value, its dimension names)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    (dimensions,) = directive["Dimensions"]
    assert NAMESPACE == directive["Namespace"]
    return {m["Name"]: (document[m["Name"]], sorted(dimensions)) for m in directive["Metrics"]}


def test_a_payment_writes_its_metrics_as_emf_lines(
    repository: InMemoryPaymentRepository,
    queue: InMemoryPaymentQueue,
    bank: ScriptedBank,
    cipher: ReversibleCipher,
    clock: FixedClock,
    ids: SequentialIds,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Submit, forward and a declining callback, each one invocation flushed by
    `log_metrics`: accepted, forwarded (by result), finalised (by status and reason), with
    service and stage on every line and no id or card number in any."""
    emf = Metrics(namespace=NAMESPACE, service="gateway-test")
    port = PowertoolsMetrics(emf, service="gateway-test")
    submit = SubmitPayment(repository, queue, cipher, clock, ids, metrics=port)
    forward = ForwardPayment(repository, bank, cipher, clock, port)
    apply = ApplyBankUpdate(repository, clock, port)

    @emf.log_metrics
    def invoke(step: str, context: object) -> Any:
        if step == "submit":
            return submit(MERCHANT_ID, body(), "corr-1")
        if step == "forward":
            return forward(QueuedPayment(payment.id, MERCHANT_ID, "corr-1"))
        return apply(BankUpdate(payment.id, MERCHANT_ID, INSUFFICIENT_FUNDS, "ref", CREATED_AT))

    payment = invoke("submit", None)
    invoke("forward", None)
    invoke("callback", None)
    out = capsys.readouterr().out

    found = [metrics_of(document) for document in emf_lines(out)]
    assert [
        {"PaymentsAccepted": ([1.0], ["service", "stage"])},
        {"PaymentsForwarded": ([1.0], ["result", "service", "stage"])},
        {"PaymentsFinalised": ([1.0], ["reason", "service", "stage", "status"])},
        {"BankUpdatesApplied": ([1.0], ["service", "stage"])},
    ] == found
    documents = emf_lines(out)
    assert ("gateway-test", "local") == (documents[0]["service"], documents[0]["stage"])
    assert ("accepted", "declined", "insufficient_funds") == (
        documents[1]["result"],
        documents[2]["status"],
        documents[2]["reason"],
    )
    assert str(payment.id) not in out
    assert str(SPEC_BODY["card_number"]) not in out


def test_dimensioned_metrics_from_many_threads_come_out_one_emf_line_each(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The forwarder's threads record at the same time: every line written is one whole EMF
    record (Powertools' single_metric printed a line and its newline apart, and two threads'
    lines ran into one)."""
    from concurrent.futures import ThreadPoolExecutor

    from shared_kernel.observability.metrics import PowertoolsMetrics

    recorder = PowertoolsMetrics(service="bank-forwarder")

    def burst(_: int) -> None:
        for _ in range(200):
            recorder.count("PaymentsForwarded", result="accepted")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(burst, range(8)))
    lines = capfd.readouterr().out.splitlines()

    records = [json.loads(line) for line in lines]
    assert 1600 == len(records)
    assert [] == [r for r in records if r["PaymentsForwarded"] != [1.0]]
