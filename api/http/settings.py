"""The HTTP side's settings, from ``LEDGER_*`` environment variables (pydantic-settings).

Persistence keeps the library's own settings (``PERSISTENCE_MODULE``, ``POSTGRES_*``); these
are the API's: where the embedded store lives, how tokens are checked, and the limits.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    data_dir: Path = Path("ledger-data")
    jwt_secret: SecretStr | None = None
    """HS256 secret; in the embedded set-up generated once into the data folder."""
    jwt_public_key: str | None = None
    """An RS256 public key (PEM) of an identity provider: tokens are then checked with it only."""
    max_body_bytes: int = 64 * 1024
    read_wait_seconds: float = 5.0
    """The longest a query waits for ``min_position``."""
    idempotency_lease_seconds: float = 10.0
    """How long a command sent with an ``Idempotency-Key`` holds the key before a retry may take over
    (and look whether it was recorded): a try that crashed never lets go of it."""
    checkpoint_seconds: float = 300.0
    """How often the embedded set-up (or ``ledger worker``) signs a checkpoint, if the log grew."""
    embedded_projections: bool | None = None
    """Run the projections in the API process (default: on SQLite yes, on PostgreSQL no)."""

    def secret(self) -> SecretStr:
        """The HS256 secret: configured, or read from (created once in) the data folder."""
        if self.jwt_secret is not None:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return SecretStr(path.read_text().strip())
