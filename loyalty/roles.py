"""What each staff role may do with the loyalty app's models (see `members.roles` for the scheme).

Marketing owns the program's rules (settings, exchange rates, tiers and perks)
and reads orders and the ledger for reports. Customer service reads the ledger and orders and
adjusts points within the limits; Supervisor also without limits, approves adjustment requests
and reverses postings. Operator imports orders, runs the daily jobs and exports the ledger.

Nobody adds, changes or deletes ledger rows (postings, lots, allocations, debts, accounts) or
orders and refunds through the admin, superusers included: those change only through services.
Program settings are a single record created by the program, so nobody adds or deletes it.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

_LEDGER_VIEW = ["view_posting", "view_lot", "view_lotallocation", "view_debt", "view_account"]
_ORDERS_VIEW = ["view_order", "view_refund"]
# Adjustment requests have only a view permission: they are made and decided through services
# (deciding is `approve_adjustment`); agents follow their own requests.
_SERVICE = [*_LEDGER_VIEW, *_ORDERS_VIEW, "adjust_points", "view_adjustmentrequest"]
# Tiers and perks: everyone sees them, Marketing edits them; members' tier states and the tier
# history change only through the services. Overriding a member's tier: Marketing, Supervisor.
_TIERS_VIEW = ["view_tier", "view_perk", "view_membertier", "view_tierchange"]
_TIERS_EDIT = [f"{a}_{m}" for m in ("tier", "perk") for a in ("add", "change", "delete")]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: [
        "view_programsettings",
        "change_programsettings",
        "view_exchangerate",
        "add_exchangerate",
        "change_exchangerate",
        "delete_exchangerate",
        *_ORDERS_VIEW,
        "view_posting",
        "view_account",
        *_TIERS_VIEW,
        *_TIERS_EDIT,
        "override_tier",
    ],
    CUSTOMER_SERVICE: [*_SERVICE, *_TIERS_VIEW],
    SUPERVISOR: [
        *_SERVICE,
        "adjust_points_unlimited",
        "approve_adjustment",
        "reverse_posting",
        *_TIERS_VIEW,
        "override_tier",
    ],
    OPERATOR: [
        "import_orders",
        "run_jobs",
        "export_posting",
        *_ORDERS_VIEW,
        "view_posting",
        "view_account",
        # Imports: the run records (read-only) and the column-mapping profiles.
        "view_importrun",
        "view_importprofile",
        "add_importprofile",
        "change_importprofile",
        "delete_importprofile",
        *_TIERS_VIEW,
    ],
}

NO_ROLE = [
    "add_programsettings",
    "delete_programsettings",
    *(
        f"{action}_{model}"
        for model in ("posting", "lot", "lotallocation", "debt", "account", "order", "refund")
        for action in ("add", "change", "delete")
    ),
    # Import runs are written by the import itself, never edited.
    "add_importrun",
    "change_importrun",
    "delete_importrun",
    # Tier states and the tier history: written by the tier services only.
    *(f"{a}_{m}" for m in ("membertier", "tierchange") for a in ("add", "change", "delete")),
    # The daily tier evaluation's record of its runs: written by it, not shown in the admin.
    *(f"{a}_tierevaluationrun" for a in ("view", "add", "change", "delete")),
]
