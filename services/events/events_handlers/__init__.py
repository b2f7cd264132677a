"""Handlers of the events service (the events recorder on the payments table's stream)."""
