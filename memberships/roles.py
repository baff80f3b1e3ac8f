"""What each staff role may do with paid membership (see `members.roles` for the scheme).

Marketing designs the plans (add and change; never delete: a sold plan is made inactive).
Everyone who serves members reads memberships and their history. Only a supervisor refunds, with
a reason (`refund_membership`, the admin's refund page). Nobody edits a membership, a period, a
charge or a perk usage in the admin: they change through the services (the storefront's API, the
daily step, the refund).
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

_READ = [
    "view_plan",
    "view_membership",
    "view_membershipperiod",
    "view_membershipcharge",
    "view_perkusage",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: ["add_plan", "change_plan", *_READ],
    CUSTOMER_SERVICE: list(_READ),
    SUPERVISOR: [*_READ, "refund_membership"],
    OPERATOR: [],
}

NO_ROLE = [
    "delete_plan",
    "add_membership",
    "change_membership",
    "delete_membership",
    "add_membershipperiod",
    "change_membershipperiod",
    "delete_membershipperiod",
    "add_membershipcharge",
    "change_membershipcharge",
    "delete_membershipcharge",
    "add_perkusage",
    "change_perkusage",
    "delete_perkusage",
]
