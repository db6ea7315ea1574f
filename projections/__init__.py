"""Read models built from the event log (current status, slip history, audit trail)."""
