"""Replay and integrity for auditors: as-of views, rebuild and diff, Merkle log, checkpoints."""
