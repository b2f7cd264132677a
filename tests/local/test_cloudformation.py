"""The one template reader: CloudFormation short tags and Serverless variables, as `serverless
package` resolves them for a stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.cloudformation import Options, gateway_resources, load_yaml, resources

pytestmark = pytest.mark.local

TEMPLATE = """\
service: s
custom:
  prefix: app-${sls:stage}
  region: ${opt:region, 'eu-west-1'}
resources:
  - Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          TableName: ${self:custom.prefix}-payments
          Region: ${self:custom.region}
          Retention: ${env:RETENTION_S, '60'}
          Policy: !Sub 'arn:aws:iam::${AWS::AccountId}:root'
          Deployed: ${param:bankUrl}
  - ${file(extra.yml):Fragment}
"""
EXTRA = """\
Fragment:
  Resources:
    Queue:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: ${self:custom.prefix}-queue
        RedrivePolicy: { deadLetterTargetArn: !GetAtt Dlq.Arn }
        KeyId: !Ref Key
"""


@pytest.fixture
def serverless_yml(tmp_path: Path) -> Path:
    """A serverless.yml with inline and `${file(...)}` resources."""
    (tmp_path / "extra.yml").write_text(EXTRA, encoding="utf-8")
    path = tmp_path / "serverless.yml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def test_short_tags_load_as_their_long_form(tmp_path: Path) -> None:
    """`!Ref`, `!GetAtt` and `!Sub` read as CloudFormation's `Ref` / `Fn::` mappings."""
    path = tmp_path / "t.yml"
    path.write_text("a: !Ref X\nb: !GetAtt Y.Arn\nc: !Sub ['${v}', {v: 1}]\n", encoding="utf-8")

    assert {
        "a": {"Ref": "X"},
        "b": {"Fn::GetAtt": "Y.Arn"},
        "c": {"Fn::Sub": ["${v}", {"v": 1}]},
    } == load_yaml(path)


def test_variables_resolve_for_the_stage_and_file_fragments_merge(serverless_yml: Path) -> None:
    """self, sls, opt (with its fallback), env and file variables resolve; CloudFormation's
    `${AWS::...}` and deployment-only `${param:...}` stay as written."""
    found = resources(serverless_yml, Options(stage="ci", environ={"RETENTION_S": "90"}))

    assert {
        "Table": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "app-ci-payments",
                "Region": "eu-west-1",
                "Retention": "90",
                "Policy": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"},
                "Deployed": "${param:bankUrl}",
            },
        },
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "app-ci-queue",
                "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": "Dlq.Arn"}},
                "KeyId": {"Ref": "Key"},
            },
        },
    } == found


def test_an_env_variable_without_value_takes_its_fallback(serverless_yml: Path) -> None:
    """`${env:NAME, '60'}` is the fallback when the environment has no NAME."""
    found = resources(serverless_yml, Options(stage="local", environ={}))

    assert "60" == found["Table"]["Properties"]["Retention"]


def test_a_variable_with_no_value_and_no_fallback_is_an_error(tmp_path: Path) -> None:
    """A `${self:...}` naming nothing fails, as `serverless package` does, rather than
    leaving a name that no emulator resource would match."""
    path = tmp_path / "serverless.yml"
    path.write_text(
        "resources:\n  Resources:\n    T: {Type: X, Properties: {N: '${self:custom.nope}'}}\n",
        encoding="utf-8",
    )

    with pytest.raises(KeyError, match=r"custom\.nope"):
        resources(path)


def test_the_gateway_resources_are_named_for_the_stage() -> None:
    """The resources service's payments table is `gateway-<stage>-payments`."""
    found = gateway_resources("ci")["PaymentsTable"]["Properties"]["TableName"]

    assert "gateway-ci-payments" == found
