"""The packages ship bytecode (services/plugins/ship-bytecode.js): every module's unchecked-hash
`.pyc` beside its source, compiled by the runtime's Python version, and loaded as is from the
unpacked read-only package, as Lambda runs it."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.template_checks import TEMPLATE

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["merchant-api", "bank-forwarder", "bank-callback", "events", "webhook-sender"]
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked

# Imports each handler module in a fresh interpreter and reports, as JSON, the files it
# compiled from source (the `compile` audit event, which the import system raises for each
# module it compiles) and each module loaded from the package with its `__cached__`.
_IMPORT_CHILD = """
import importlib, json, sys
task = sys.argv[1]
compiled = []
sys.addaudithook(
    lambda event, args: compiled.append(str(args[1]))
    if event == "compile" and str(args[1]).startswith(task) else None
)
for module in sys.argv[2:]:
    importlib.import_module(module)
loaded = {
    name: module.__cached__
    for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").startswith(task)
}
print(json.dumps({"compiled": compiled, "loaded": loaded}))
"""


def handler_modules(template: Path) -> list[str]:
    """The module of each function's handler in a packaged template (`a/b.handler` → `a.b`)."""
    resources = json.loads(template.read_text())["Resources"].values()
    return sorted(
        r["Properties"]["Handler"].rsplit(".", 1)[0].replace("/", ".")
        for r in resources
        if r["Type"] == "AWS::Lambda::Function"
    )


def files(folder: Path) -> list[str]:
    """Every path under `folder`, relative."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("service", SERVICES)
def test_every_module_ships_its_unchecked_hash_bytecode(
    service: str, packaged: Callable[[str], Path]
) -> None:
    """Each .py in the zip has its cpython-311 .pyc beside it: unchecked-hash, of that source."""
    (archive,) = packaged(service).glob("*.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        sources = sorted(n for n in names if n.endswith(".py"))
        expected = {n: importlib.util.cache_from_source(n) for n in sources}
        assert "cpython-311" == sys.implementation.cache_tag
        assert [] == [n for n, pyc in expected.items() if pyc not in names]
        assert sorted(expected.values()) == sorted(n for n in names if n.endswith(".pyc"))
        headers = {n: zipped.read(pyc)[:16] for n, pyc in expected.items()}
        wrong = [
            n
            for n, header in headers.items()
            if header[:4] != importlib.util.MAGIC_NUMBER
            or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH
            or header[8:16] != importlib.util.source_hash(zipped.read(n))
        ]
    assert len(sources) > 100  # the handlers, the kernel and their requirements
    assert [] == wrong


def unpack(archive: Path, task: Path, *, bytecode: bool = True) -> None:
    """`archive` unpacked into `task` (without its .pyc unless `bytecode`), read-only."""
    with zipfile.ZipFile(archive) as zipped:
        names = [n for n in zipped.namelist() if bytecode or not n.endswith(".pyc")]
        zipped.extractall(task, names)
    for path in [*task.rglob("*"), task]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def import_handlers(task: Path, modules: list[str]) -> dict[str, Any]:
    """What importing `modules` from `task` with -B compiled and loaded (_IMPORT_CHILD)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(task),  # the package first, then the venv's SDK (the runtime's)
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    try:
        child = subprocess.run(
            [sys.executable, "-B", "-c", _IMPORT_CHILD, f"{task}{os.sep}", *modules],
            env=env,
            cwd=task,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        for path in [task, *task.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert 0 == child.returncode, child.stderr[-3000:]
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize("service", SERVICES)
def test_handlers_import_from_the_read_only_package_with_its_bytecode(
    service: str, packaged: Callable[[str], Path], tmp_path: Path
) -> None:
    """Importing every handler from the unpacked read-only zip with -B compiles no module of
    the package (each is loaded from its shipped .pyc) and writes nothing."""
    folder = packaged(service)
    (archive,) = folder.glob("*.zip")
    task = tmp_path / "task"
    unpack(archive, task)
    before = files(task)
    modules = handler_modules(folder / TEMPLATE)

    report = import_handlers(task, modules)

    assert [] == report["compiled"]
    loaded = report["loaded"]
    assert set(modules) <= set(loaded)
    assert [] == [name for name, cached in loaded.items() if not Path(cached).is_file()]
    assert before == files(task)


def test_without_the_bytecode_the_import_compiles_the_handlers(
    packaged: Callable[[str], Path], tmp_path: Path
) -> None:
    """The probe sees compilation: the same package without its .pyc compiles each handler."""
    folder = packaged("bank-callback")
    (archive,) = folder.glob("*.zip")
    task = tmp_path / "task"
    unpack(archive, task, bytecode=False)
    modules = handler_modules(folder / TEMPLATE)

    report = import_handlers(task, modules)

    handler_files = {str(task / (m.replace(".", os.sep) + ".py")) for m in modules}
    assert handler_files <= set(report["compiled"])


def test_packaging_refuses_a_python_other_than_the_runtime(tmp_path: Path) -> None:
    """ship_bytecode.py fails, leaving the zip alone, when its Python is not the runtime's."""
    archive = tmp_path / "service.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("module.py", "VALUE = 1\n")
    original = archive.read_bytes()
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "services" / "plugins" / "ship_bytecode.py"),
            "python3.10",
            str(archive),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 1 == result.returncode
    assert "is python3.11, the functions run python3.10" in result.stderr
    assert original == archive.read_bytes()
