"""`make deploy-local`: `sls deploy --stage local` of every service, in dependency order
(the resources service first, then the others two at a time), through serverless-localstack
(LocalStack, or the emulator `make start` runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local.stack import OSLS, ROOT, STAGE

ORDER = ("resources", "merchant-api", "bank-forwarder", "bank-callback", "events", "webhook-sender")
# Deploys at once after the resources service (each is a CPU-bound osls run: pip, zipping).
DEPLOY_WORKERS = 2


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
    """Deploy the resources service, then the services that need only its outputs, two at
    a time (as osls-compose deploys independent services); report every failure."""
    env = osls_env()
    first, *dependants = ORDER
    if deploy(first, env).returncode != 0:
        sys.exit(f"deploying {first} failed")
    # The events service's stream event source needs the stream's ARN, which exists only once
    # the table does (serverless-compose passes it in AWS stages).
    env["PAYMENTS_STREAM_ARN"] = resources_output(env, "PaymentsTableStreamArn")
    with ThreadPoolExecutor(max_workers=DEPLOY_WORKERS) as pool:
        results = list(pool.map(lambda service: deploy(service, env), dependants))
    failed = [service for service, r in zip(dependants, results, strict=True) if r.returncode]
    if failed:
        sys.exit(f"deploying {', '.join(failed)} failed")


def deploy(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`osls deploy --stage local` of `service`, its output printed in one piece when done.

    Each run builds the repository's own package (`../..` in the service's requirements)
    with setuptools, which writes `build/` and the `.egg-info` into the source tree; two
    builds at once would write over each other. `DIST_EXTRA_CONFIG` (setuptools' extra
    configuration file) moves both into a folder of this run's own."""
    with tempfile.TemporaryDirectory(prefix=f"deploy-{service}-") as scratch:
        config = Path(scratch) / "setup.cfg"
        config.write_text(
            f"[build]\nbuild_base = {scratch}/build\n[egg_info]\negg_base = {scratch}\n"
        )
        result = subprocess.run(
            [str(OSLS), "deploy", "--stage", STAGE],
            cwd=ROOT / "services" / service,
            env={**env, "DIST_EXTRA_CONFIG": str(config)},
            capture_output=True,
            text=True,
            check=False,
        )
    print(f"== {service}: exit {result.returncode}\n{result.stdout}{result.stderr}", flush=True)
    return result


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
