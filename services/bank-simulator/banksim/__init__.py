"""The bank simulator: a stand-in acquiring bank that honours the bank contract (SPEC §4/§5, §8).

The package is split by concern so each piece can be read on its own:

* ``config``      -- settings from environment variables;
* ``outcomes``    -- the test-card table and the callback timeline of a payment;
* ``validation``  -- checks a ``POST /payments`` request and lists every failing field;
* ``faults``      -- fault-injection settings and the seeded random source behind them;
* ``signing``     -- the ``X-Bank-Signature`` header (HMAC-SHA256);
* ``store``       -- the in-memory record of every payment, charge and action;
* ``money_movements`` -- captures, voids and refunds, judged against per-payment balances;
* ``callbacks``   -- a scheduler plus worker threads that deliver signed callbacks;
* ``http_api``    -- the HTTP handler and its routes;
* ``app``         -- wires it together, runs it and shuts it down cleanly.

It is never deployed: it is a development and test tool started by the local stack runner.
"""
