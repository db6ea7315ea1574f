"""Who the API tests act as: one principal per role, and a second client."""

from __future__ import annotations

from dataclasses import dataclass

from api.http.auth import Role


@dataclass(frozen=True)
class Who:
    sub: str
    role: Role
    client_id: str | None = None


PMO = Who("dana.whitfield", Role.PMO)
SAM = Who("sam.okafor", Role.PMO)
AUDITOR = Who("ada.auditor", Role.AUDITOR)
ACME = Who("cfo@acme", Role.CLIENT, "acme")
GLOBEX = Who("cto@globex", Role.CLIENT, "globex")
