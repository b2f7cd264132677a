"""Entry point of the bank simulator, a stand-in acquiring bank for local runs and tests.

Start it from the repository root with the project's virtualenv (stdlib only, so any
Python 3.11+ works)::

    python services/bank-simulator/bank_simulator.py

It listens on ``BANK_SIMULATOR_HOST:BANK_SIMULATOR_PORT`` (default ``127.0.0.1:3002``;
loopback only), prints ``bank simulator ready on http://HOST:PORT`` once it is listening, and
stops cleanly on SIGTERM or Ctrl-C. See README.md next to this file for the environment
variables, the test cards and the ``/_sim`` test API.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> int:
    """Run the simulator; its exit code is the process's."""
    # The folder name has a hyphen, so it cannot be a package: put it on the path so the
    # `banksim` package next to this file imports however the script is started.
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    app = importlib.import_module("banksim.app")
    exit_code: int = app.main()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
