"""Checks on a generated CloudFormation template: least privilege and stage throttling."""

from __future__ import annotations

from typing import Any

# The file `osls package` writes a service's CloudFormation template to.
TEMPLATE = "cloudformation-template-update-stack.json"

# Actions whose resource AWS does not let a policy name (they take "*").
RESOURCE_STAR_ALLOWED = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def least_privilege_problems(template: dict[str, Any]) -> list[str]:
    """What breaks least privilege: two functions sharing a role, a `*` (or `service:*`)
    action, a `*` resource outside RESOURCE_STAR_ALLOWED."""
    resources = template["Resources"]
    problems = []
    roles: dict[str, str] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resource["Properties"].get("Role")
        role_id = role["Fn::GetAtt"][0] if isinstance(role, dict) and "Fn::GetAtt" in role else role
        if str(role_id) in roles:
            problems.append(f"{name} shares role {role_id} with {roles[str(role_id)]}")
        roles[str(role_id)] = name
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role" or name not in roles:
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in _as_list(policy["PolicyDocument"]["Statement"]):
                actions = _as_list(statement.get("Action", []))
                for action in actions:
                    if action == "*" or str(action).endswith(":*"):
                        problems.append(f"{name}: wildcard action {action}")
                if "*" in _as_list(statement.get("Resource", [])):
                    broad = [a for a in actions if a not in RESOURCE_STAR_ALLOWED]
                    if broad:
                        problems.append(f"{name}: resource * for {broad}")
    return problems


def stage_throttling(template: dict[str, Any]) -> list[tuple[float, float]]:
    """(rate, burst) of every API Gateway deployment's stage."""
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Deployment":
            stage = resource["Properties"].get("StageDescription") or {}
            found.append((stage.get("ThrottlingRateLimit"), stage.get("ThrottlingBurstLimit")))
    return found
