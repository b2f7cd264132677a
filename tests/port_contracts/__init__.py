"""One behaviour test per port, run against its in-memory fake and its AWS adapter."""
