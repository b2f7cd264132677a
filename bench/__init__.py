"""`make bench`: cold start, warm latency, AWS requests, cost, local end-to-end and package
sizes of the gateway, each against its floor or target (SPEC §7, docs/performance.md)."""
