"""Who may do what with idempotency records: nobody. They are the API's own bookkeeping, written
and purged by the API and the daily jobs only, never shown in the admin."""

from __future__ import annotations

ROLE_PERMISSIONS: dict[str, list[str]] = {}

NO_ROLE = [f"{action}_idempotencyrecord" for action in ("add", "change", "delete", "view")]
