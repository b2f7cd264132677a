"""The wire side of each trigger: events in as typed requests, answers out; for each HTTP API
the one place errors become HTTP statuses."""
