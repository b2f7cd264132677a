"""API models: the wire shapes of each HTTP API, and the one place each maps errors to HTTP."""
