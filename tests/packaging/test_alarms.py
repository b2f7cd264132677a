"""The CloudWatch alarms in the packaged templates: all in the resources service, each on the
metric of the resource it watches, named by the convention the other services' packaged
templates actually follow (function and REST API names, the EMF service and stage)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared_kernel.application.reconcile import ReconcileReport
from shared_kernel.observability.metrics import NAMESPACE

pytestmark = pytest.mark.packaging

SERVICES = (
    "resources",
    "merchant-api",
    "bank-forwarder",
    "bank-callback",
    "events",
    "webhook-sender",
)


@pytest.fixture(scope="module")
def templates(packaged: Callable[[str], Path]) -> dict[str, dict[str, Any]]:
    """Every service's packaged CloudFormation resources (`osls package --stage local`)."""
    return {
        service: json.loads(
            (packaged(service) / "cloudformation-template-update-stack.json").read_text()
        )["Resources"]
        for service in SERVICES
    }


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The properties of the resources of one CloudFormation type, by logical id."""
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == kind}


def dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    """An alarm's metric dimensions, by name."""
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def test_every_alarm_is_in_the_resources_template_and_notifies_the_alarm_topic(
    templates: dict[str, dict[str, Any]],
) -> None:
    """Nine alarms in resources (each DLQ, queue age, forwarder and webhook sender errors,
    the events recorder's iterator age, reconciler ALERTs, 5xx of each API), none in the
    function services; every one notifies the SNS alarm topic."""
    alarms = {
        service: of_type(resources, "AWS::CloudWatch::Alarm")
        for service, resources in templates.items()
    }
    watched = sorted((a["Namespace"], a["MetricName"]) for a in alarms["resources"].values())
    assert [
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "IteratorAge"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        (NAMESPACE, "ReconcileAlerts"),
    ] == watched
    assert {
        "merchant-api": {},
        "bank-forwarder": {},
        "bank-callback": {},
        "events": {},
        "webhook-sender": {},
    } == {s: a for s, a in alarms.items() if s != "resources"}
    assert ["AlarmTopic"] == list(of_type(templates["resources"], "AWS::SNS::Topic"))
    notified = {
        (json.dumps(a["AlarmActions"]), json.dumps(a["OKActions"]))
        for a in alarms["resources"].values()
    }
    assert {(json.dumps([{"Ref": "AlarmTopic"}]),) * 2} == notified


def test_cloudwatch_may_use_the_alarm_topics_key_for_this_stages_alarms_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    """The topic is under a key of the stack's own (CloudWatch cannot publish to a topic
    under the AWS-managed SNS key), whose policy lets CloudWatch encrypt for the stage's
    alarms and nothing more."""
    resources = templates["resources"]
    (topic,) = of_type(resources, "AWS::SNS::Topic").values()
    key_id = topic["KmsMasterKeyId"]["Ref"]
    statements = resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]

    assert "AWS::KMS::Key" == resources[key_id]["Type"]
    assert ["kms:Decrypt", "kms:GenerateDataKey*"] == cloudwatch["Action"]
    source_arn = json.dumps(cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":alarm:gateway-local-*" in source_arn
    alarm_names = [a["AlarmName"] for a in of_type(resources, "AWS::CloudWatch::Alarm").values()]
    assert [] == [name for name in alarm_names if not name.startswith("gateway-local-")]


def test_the_queue_alarms_watch_the_dead_letter_and_the_payment_queue(
    templates: dict[str, dict[str, Any]],
) -> None:
    """Messages visible in each DLQ, and the age of the payment queue's oldest message."""
    alarms = of_type(templates["resources"], "AWS::CloudWatch::Alarm")
    watched = sorted(
        (a["MetricName"], dimensions(a)["QueueName"]["Fn::GetAtt"][0])
        for a in alarms.values()
        if a["Namespace"] == "AWS/SQS"
    )
    assert [
        ("ApproximateAgeOfOldestMessage", "PaymentsQueue"),
        ("ApproximateNumberOfMessagesVisible", "PaymentsDeadLetterQueue"),
        ("ApproximateNumberOfMessagesVisible", "WebhookDeadLetterQueue"),
    ] == watched


def test_the_function_and_api_alarms_name_what_the_other_templates_create(
    templates: dict[str, dict[str, Any]],
) -> None:
    """The Lambda alarms name the forwarder's, the webhook sender's and the events recorder's
    functions, each 5xx alarm one REST API's name, the ALERT alarm the reconciler's EMF
    service and stage and a count its report has."""
    alarms = list(of_type(templates["resources"], "AWS::CloudWatch::Alarm").values())
    functions = of_type(templates["bank-forwarder"], "AWS::Lambda::Function")
    sender = of_type(templates["webhook-sender"], "AWS::Lambda::Function")
    recorder = of_type(templates["events"], "AWS::Lambda::Function")
    apis = {
        service: [
            api["Name"] for api in of_type(templates[service], "AWS::ApiGateway::RestApi").values()
        ]
        for service in ("merchant-api", "bank-callback")
    }
    lambda_alarms = sorted(
        (a["MetricName"], dimensions(a)["FunctionName"])
        for a in alarms
        if a["Namespace"] == "AWS/Lambda"
    )
    assert (
        sorted(
            [
                ("Errors", functions["ForwardLambdaFunction"]["FunctionName"]),
                ("Errors", sender["DeliverLambdaFunction"]["FunctionName"]),
                ("IteratorAge", recorder["RecordLambdaFunction"]["FunctionName"]),
            ]
        )
        == lambda_alarms
    )

    api_alarms = sorted(dimensions(a)["ApiName"] for a in alarms if a["MetricName"] == "5XXError")
    assert sorted(apis["merchant-api"] + apis["bank-callback"]) == api_alarms

    (alerts,) = [a for a in alarms if a["Namespace"] == NAMESPACE]
    environment = functions["ReconcileLambdaFunction"]["Environment"]["Variables"]
    expected = {"service": environment["POWERTOOLS_SERVICE_NAME"], "stage": environment["STAGE"]}
    assert expected == dimensions(alerts)
    assert alerts["MetricName"] in {f"Reconcile{name}" for name in ReconcileReport().counts()}
