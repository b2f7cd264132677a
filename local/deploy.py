"""`make deploy-local`: `sls deploy --stage local` of every service, in dependency order,
through serverless-localstack (LocalStack, or the emulator `make start` runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local.stack import OSLS, ROOT, STAGE

ORDER = ("resources", "merchant-api", "bank-forwarder", "bank-callback", "events", "webhook-sender")


def osls_env() -> dict[str, str]:
    """The environment osls runs in: this interpreter builds the Python packages (its folder
    first on PATH), test credentials unless some are set, and no AWS_ENDPOINT_URL
    (serverless-localstack points the SDK itself)."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        "PYTHON_BIN": sys.executable,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    }
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def osls_package(service: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`osls package --stage local` of `service` into `out`, its output captured."""
    return subprocess.run(
        [str(OSLS), "package", "--stage", STAGE, "--package", str(out)],
        cwd=ROOT / "services" / service,
        env=osls_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def main() -> None:
    """Deploy each service; stop at the first failure."""
    env = osls_env()
    for service in ORDER:
        print(f"== {service}", flush=True)
        result = subprocess.run(
            [str(OSLS), "deploy", "--stage", STAGE], cwd=ROOT / "services" / service, env=env
        )
        if result.returncode != 0:
            sys.exit(f"deploying {service} failed")
        if service == "resources":
            # The events service's stream event source needs the stream's ARN, which exists
            # only once the table does (serverless-compose passes it in AWS stages).
            env["PAYMENTS_STREAM_ARN"] = resources_output(env, "PaymentsTableStreamArn")


def resources_output(env: dict[str, str], name: str) -> str:
    """An output of the local stage's resources stack, read from the emulator with the
    credentials of `env` (osls_env's)."""
    import boto3

    port = env.get("AWS_EMULATOR_PORT", "4566")
    cloudformation = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="eu-west-1",
    ).client("cloudformation", endpoint_url=f"http://127.0.0.1:{port}")
    (stack,) = cloudformation.describe_stacks(StackName=f"gateway-resources-{STAGE}")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return str(outputs[name])


if __name__ == "__main__":
    main()
