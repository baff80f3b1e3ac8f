"""What each staff role may do with the rewards app's models (see `members.roles` for the scheme).

Marketing manages the catalogue (rewards and their stock: `change_reward` covers a stock
adjustment) and the birthday gifts (which reward a "birthday gift" perk gives), and reads
redemptions for reports. Customer service and Supervisor read rewards and
redemptions and may cancel an unused redemption (points and stock come back) with a reason.
Operator reads and exports.

Nobody adds, changes or deletes redemptions or stock movements through the admin: redemptions
change only through the services (redeem, use, cancel, expire) and stock movements are an
append-only record.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

_VIEW = ["view_reward", "view_redemption", "view_stockmovement", "view_perkgift"]
_SERVICE = [*_VIEW, "cancel_redemption"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [
        "add_reward",
        "change_reward",
        "delete_reward",
        "add_perkgift",
        "change_perkgift",
        "delete_perkgift",
        *_VIEW,
    ],
    CUSTOMER_SERVICE: _SERVICE,
    SUPERVISOR: _SERVICE,
    OPERATOR: [*_VIEW, "export_redemption"],
}

NO_ROLE = [
    f"{action}_{model}"
    for model in ("redemption", "stockmovement")
    for action in ("add", "change", "delete")
]
