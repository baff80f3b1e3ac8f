"""Admin of the loyalty app, one module per concern; each registers its own ModelAdmins."""

from loyalty.admin import (  # noqa: F401  (they register)
    adjustments,
    imports,
    ledger,
    members,
    program,
    tiers,
)
