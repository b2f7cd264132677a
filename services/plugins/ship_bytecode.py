"""Adds each `.py` module's bytecode to a Lambda deployment zip (run by ship-bytecode.js).

Lambda's /var/task is read-only, so Python cannot cache bytecode there: without `.pyc` in the
package, every cold start compiles every module it imports. This rewrites each zip with
`<dir>/__pycache__/<name>.<cache tag>.pyc` beside every `<dir>/<name>.py`, compiled by this
interpreter, which must be the runtime's version (the tag and the bytecode are per version).
The sources stay: tracebacks show their lines, and Python falls back to them.

Usage: ship_bytecode.py <runtime, e.g. python3.11> <zip>...
"""

from __future__ import annotations

import importlib.util
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

# The smallest deflate: the bytecode adds ≈40% to a package that must stay under 10 MB.
LEVEL = 9


def check_runtime(runtime: str) -> None:
    """Fail unless this interpreter is the runtime's version (`python3.11`)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if version != runtime:
        sys.exit(f"ship-bytecode: {sys.executable} is {version}, the functions run {runtime}")


def bytecode_name(source: str) -> str:
    """The zip entry of `source`'s bytecode: `a/b.py` → `a/__pycache__/b.cpython-311.pyc`."""
    return importlib.util.cache_from_source(source)


def compiled(source: bytes, name: str, scratch: Path) -> bytes:
    """`source`'s bytecode, named `name` (its path in the package) in its code objects."""
    path, cache = scratch / "module.py", scratch / "module.pyc"
    path.write_bytes(source)
    # UNCHECKED_HASH: the loader uses the .pyc without comparing it with the source. The
    # default (a timestamp .pyc) would be checked against the .py's mtime, which neither the
    # zip nor its unpacking keeps reliably: a mismatch means a silent recompile on every cold
    # start. The package is immutable once built, so there is nothing to check.
    py_compile.compile(
        str(path),
        cfile=str(cache),
        dfile=name,
        doraise=True,
        optimize=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    return cache.read_bytes()


def ship_bytecode(archive: Path) -> int:
    """Rewrite `archive` with a .pyc beside each .py (any bytecode it held is replaced);
    the number of .pyc written."""
    count = 0
    rewritten = archive.with_name(archive.name + ".bytecode")
    with (
        tempfile.TemporaryDirectory() as tmp,
        zipfile.ZipFile(archive) as source,
        zipfile.ZipFile(rewritten, "w") as target,
    ):
        for entry in source.infolist():
            path = PurePosixPath(entry.filename)
            if "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
                continue
            data = source.read(entry)
            target.writestr(entry, data, zipfile.ZIP_DEFLATED, LEVEL)
            if entry.is_dir() or path.suffix != ".py":
                continue
            # Same date and mode as its source: the zip is as reproducible as osls makes it.
            info = zipfile.ZipInfo(bytecode_name(entry.filename), entry.date_time)
            info.external_attr = entry.external_attr
            pyc = compiled(data, entry.filename, Path(tmp))
            target.writestr(info, pyc, zipfile.ZIP_DEFLATED, LEVEL)
            count += 1
    os.replace(rewritten, archive)
    return count


def main(argv: list[str]) -> None:
    """Check the interpreter against the runtime, then add the bytecode to each zip."""
    if len(argv) < 2:
        sys.exit(__doc__)
    runtime, *archives = argv
    check_runtime(runtime)
    for archive in archives:
        print(f"ship-bytecode: {ship_bytecode(Path(archive))} modules compiled into {archive}")


if __name__ == "__main__":
    main(sys.argv[1:])
