"""The ledger's edges: the command line (and, later, HTTP and pages)."""
