"""Each function service's deployment package: `osls package --stage local`
(`local.deploy.osls_package`, as tests/packaging does), zipped size against the 10 MB
target."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from local.deploy import osls_package

SERVICES = ("merchant-api", "bank-forwarder", "bank-callback", "events", "webhook-sender")
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
    result = osls_package(service, out)
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
