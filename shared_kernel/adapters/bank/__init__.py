"""The acquiring bank connector: HTTP client, wire formats and status mapping, signatures."""
