"""The engagement ledger's domain: events, state, rules and the application service.

Imports nothing from the project's other packages (checked by import-linter).
"""
