"""`make deploy-local`: `sls deploy --stage local` of every service, in dependency order,
through serverless-localstack (LocalStack, or the emulator `make start` runs)."""

from __future__ import annotations

import os
import subprocess
import sys

from local.stack import OSLS, ROOT, STAGE

ORDER = ("resources", "merchant-api", "bank-forwarder", "bank-callback")


def main() -> None:
    """Deploy each service; stop at the first failure."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        "PYTHON_BIN": sys.executable,
    }
    env.pop("AWS_ENDPOINT_URL", None)  # serverless-localstack points the SDK itself
    for service in ORDER:
        print(f"== {service}", flush=True)
        result = subprocess.run(
            [str(OSLS), "deploy", "--stage", STAGE], cwd=ROOT / "services" / service, env=env
        )
        if result.returncode != 0:
            sys.exit(f"deploying {service} failed")


if __name__ == "__main__":
    main()
