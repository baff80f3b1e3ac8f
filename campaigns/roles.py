"""What each staff role may do with campaigns (see `members.roles` for the scheme).

Marketing runs campaigns (add, change, view; never delete: awards point at them — a campaign is
ended by its window or switched off). Everyone else reads campaigns, referrals and awards, so an
agent can tell a member where a bonus came from, or that a campaign held them out. Awards,
holdouts and referrals change only through the services (orders, activities, daily jobs).
Budget stripes are nobody's.
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

_READ = ["view_campaign", "view_campaignaward", "view_campaignholdout", "view_referral"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: ["add_campaign", "change_campaign", *_READ],
    CUSTOMER_SERVICE: _READ,
    SUPERVISOR: _READ,
    OPERATOR: _READ,
}

NO_ROLE = [
    "delete_campaign",
    *(
        f"{action}_{model}"
        for model in ("campaignaward", "campaignholdout", "referral")
        for action in ("add", "change", "delete")
    ),
    # Budget stripes are bookkeeping of the awards (`campaigns.services.budget`): staff read the
    # budget left on the campaign's pages, never the stripes.
    *(f"{action}_campaignbudgetstripe" for action in ("add", "change", "delete", "view")),
]
