"""The e2e suite's fixtures (the running stack, its HTTP clients, merchants) live in
tests/conftest.py, shared with the reliability and security suites so that a session starts
one stack only. `Merchant` is re-exported here for the e2e modules that import it."""

from __future__ import annotations

from tests.conftest import Merchant

__all__ = ["Merchant"]
