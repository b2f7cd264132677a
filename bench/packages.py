"""Each function service's deployment package: `osls package --stage local` (as
tests/packaging does), zipped size against the 10 MB target."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import OSLS, ROOT

SERVICES = ("merchant-api", "bank-forwarder", "bank-callback")
MAX_ZIP_BYTES = 10 * 1024 * 1024


def package(service: str, out: Path, attempts: int = 3) -> Path:
    """Package `service` into `out`; the zip. Retried: osls works in the service's own
    `.serverless` folder, which another `osls package` of the same service (a test run
    beside the bench) can empty under it."""
    for attempt in range(1, attempts + 1):
        try:
            return _package_once(service, out)
        except RuntimeError:
            if attempt == attempts:
                raise
            time.sleep(5 * attempt)
    raise AssertionError("unreachable")


def _package_once(service: str, out: Path) -> Path:
    venv_bin = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PYTHON_BIN": sys.executable,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(  # noqa: S603 - the repository's own osls
        [str(OSLS), "package", "--stage", "local", "--package", str(out)],
        cwd=ROOT / "services" / service,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"osls package {service} failed:\n{result.stdout[-2000:]}")
    (archive,) = out.glob(f"{service}.zip")
    return archive


def measure() -> list[dict[str, Any]]:
    """Zipped and unzipped size of every service's package."""
    import zipfile

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        for service in SERVICES:
            archive = package(service, Path(tmp) / service)
            with zipfile.ZipFile(archive) as zipped:
                unzipped = sum(info.file_size for info in zipped.infolist())
                top: dict[str, int] = {}
                for info in zipped.infolist():
                    name = info.filename.split("/")[0]
                    top[name] = top.get(name, 0) + info.compress_size
            size = archive.stat().st_size
            largest = sorted(top.items(), key=lambda kv: -kv[1])[:5]
            rows.append(
                {
                    "service": service,
                    "zipped_bytes": size,
                    "unzipped_bytes": unzipped,
                    "limit_bytes": MAX_ZIP_BYTES,
                    "met": size <= MAX_ZIP_BYTES,
                    "largest_parts": dict(largest),
                }
            )
    return rows
