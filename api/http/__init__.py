"""The HTTP API: commands and queries over the ledger, with roles, concurrency control and idempotency."""
