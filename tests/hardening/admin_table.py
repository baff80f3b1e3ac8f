"""Who may open and submit each admin page: `docs/architecture.md` ("Roles") as a table.

Written out by hand from the documented roles and the apps' `roles.py`, not computed from the
permissions, so a permission granted or withdrawn by mistake shows as a mismatch in
`tests/hardening/test_admin_matrix.py`. Every admin URL must have a row: the matrix refuses to
run when a registered admin, a custom view, an admin action or a site page has none.

Principals, by code: M (Marketing), CS (Customer service), S (Supervisor), O (Operator), SU (a
superuser), STAFF (staff status, no group), ANON (not logged in).
"""

from __future__ import annotations

from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR, SUPERVISOR

ROLE_CODES = {MARKETING: "M", CUSTOMER_SERVICE: "CS", SUPERVISOR: "S", OPERATOR: "O"}
PRINCIPALS = [*ROLE_CODES.values(), "SU", "STAFF", "ANON"]
EVERYONE = "M CS S O SU"
ALL_STAFF = "M CS S O SU STAFF"

# model label: (view, add, change, delete), who may, by code. "View" is the changelist, the
# change page (read-only) and the history; "change" is the change page's POST; "delete" the
# delete page and the `delete_selected` action. Nobody adds, changes or deletes ledger rows,
# orders, refunds, import runs, tier states or the tier history; members are never deleted and
# only superusers add them; the login records are read-only, an unlock deletes an attempt.
MODELS: dict[str, tuple[str, str, str, str]] = {
    "auth.Group": ("SU", "SU", "SU", "SU"),
    "auth.User": ("SU", "SU", "SU", "SU"),
    "rest_framework_api_key.APIKey": ("SU", "SU", "SU", "SU"),
    "axes.AccessAttempt": ("SU", "", "", "SU"),
    "axes.AccessLog": ("SU", "", "", ""),
    "axes.AccessFailureLog": ("SU", "", "", ""),
    "members.AuditEntry": ("S O SU", "", "", ""),
    "members.Member": (EVERYONE, "SU", "CS S SU", ""),
    "loyalty.AdjustmentRequest": ("CS S SU", "", "", ""),
    "loyalty.ImportRun": ("O SU", "", "", ""),
    "loyalty.ImportProfile": ("O SU", "O SU", "O SU", "O SU"),
    "loyalty.Posting": (EVERYONE, "", "", ""),
    "loyalty.Lot": ("CS S SU", "", "", ""),
    "loyalty.Debt": ("CS S SU", "", "", ""),
    "loyalty.Account": (EVERYONE, "", "", ""),
    "loyalty.Order": (EVERYONE, "", "", ""),
    "loyalty.Refund": (EVERYONE, "", "", ""),
    "loyalty.ProgramSettings": ("M SU", "", "M SU", ""),
    "loyalty.ExchangeRate": ("M SU", "M SU", "M SU", "M SU"),
    "loyalty.Perk": (EVERYONE, "M SU", "M SU", "M SU"),
    "loyalty.Tier": (EVERYONE, "M SU", "M SU", "M SU"),
    "loyalty.MemberTier": (EVERYONE, "", "", ""),
    "loyalty.TierChange": (EVERYONE, "", "", ""),
    # Feedback is written by the storefront only; Operators do not read it.
    "feedback.Feedback": ("M CS S SU", "", "", ""),
    # Paid membership: Marketing designs plans (never deleted, made inactive); memberships change
    # through the storefront and the daily step only. Operators have no part in it.
    "memberships.Plan": ("M CS S SU", "M SU", "M SU", ""),
    "memberships.Membership": ("M CS S SU", "", "", ""),
    # Segments: Marketing builds segments and clubs (clubs are closed, never deleted); awards are
    # written by the services alone; Marketing, customer service and supervisors add members to
    # clubs and take them out (the club services, audited), never edit a membership.
    "segments.Segment": ("M CS S SU", "M SU", "M SU", "M SU"),
    "segments.SegmentAward": ("M CS S SU", "", "", ""),
    "segments.Club": ("M CS S SU", "M SU", "M SU", ""),
    "segments.ClubMembership": ("M CS S SU", "M CS S SU", "", "M CS S SU"),
    "rewards.Reward": (EVERYONE, "M SU", "M SU", "M SU"),
    "rewards.StockMovement": (EVERYONE, "", "", ""),
    "rewards.Redemption": (EVERYONE, "", "", ""),
    "rewards.PerkGift": (EVERYONE, "M SU", "M SU", "M SU"),
    "campaigns.Campaign": (EVERYONE, "M SU", "M SU", ""),
    "campaigns.CampaignAward": (EVERYONE, "", "", ""),
    "campaigns.CampaignHoldout": (EVERYONE, "", "", ""),
    "campaigns.Referral": (EVERYONE, "", "", ""),
    # Member messages: Marketing writes templates and switches kinds; the log, opt-outs and
    # suppressions are written by the sending, the members' links and the provider only.
    "messaging.MessageTemplate": ("M CS S SU", "M SU", "M SU", ""),
    "messaging.KindSetting": ("M SU", "", "M SU", ""),
    "messaging.MessageLog": (EVERYONE, "", "", ""),
    "messaging.OptOut": ("M CS S SU", "", "", ""),
    "messaging.Suppression": ("M S O SU", "", "", ""),
    # Webhooks: Marketing and Operators manage endpoints (switched off, never deleted); the
    # delivery log is written by the deliveries alone.
    "webhooks.Endpoint": ("M O SU", "M O SU", "M O SU", ""),
    "webhooks.Delivery": ("M O SU", "", "", ""),
    # The job queue (PostgreSQL only): Operators watch it; retrying is an action of the list.
    "procrastinate.ProcrastinateJob": ("O SU", "", "", ""),
}

# Custom admin views (URL name without "admin:"), GET and POST: who may.
CUSTOM: dict[str, str] = {
    "auth_user_password_change": "SU",
    "loyalty_adjustmentrequest_approve": "S SU",
    "loyalty_adjustmentrequest_reject": "S SU",
    "loyalty_importrun_import": "O SU",
    "loyalty_importrun_errors": "O SU",
    "loyalty_importrun_progress": "O SU",
    "loyalty_importrun_progress_status": "O SU",
    "loyalty_posting_reverse": "S SU",
    "loyalty_posting_export": "O SU",
    "members_member_adjust_points": "CS S SU",
    "members_member_status": "CS S SU",
    "members_member_erase": "S SU",
    # The member list's CSV/XLSX export; the subject-access export is the erasers' (privacy).
    "members_member_export": "O SU",
    "members_member_data_export": "S SU",
    "loyalty_membertier_override": "M S SU",
    "loyalty_membertier_override_end": "M S SU",
    "memberships_membership_refund": "S SU",
    # The builder's live count (a read), the export of a segment's members, freezing it, and the
    # bulk award (the staff who may adjust points: their limits apply).
    "segments_segment_count": "M CS S SU",
    "segments_segment_export": "M SU",
    "segments_segment_freeze": "M SU",
    "segments_segment_award": "CS S SU",
    "rewards_reward_stock": "M SU",
    "rewards_redemption_cancel": "CS S SU",
    "rewards_redemption_export": "O SU",
    "campaigns_campaign_preview": EVERYONE,
    "campaigns_campaign_results": EVERYONE,
    "messaging_messagetemplate_test": "M SU",
    "webhooks_endpoint_test": "M O SU",
    "webhooks_endpoint_replay": "M O SU",
    "webhooks_endpoint_rotate": "M O SU",
    "webhooks_delivery_replay": "M O SU",
}

# Admin actions other than `delete_selected` (which follows the delete column): "label action".
ACTIONS: dict[str, str] = {
    "axes.AccessAttempt cleanup_expired_attempts": "SU",
    "webhooks.Delivery replay_selected": "M O SU",
    "procrastinate.ProcrastinateJob retry": "O SU",
    "procrastinate.ProcrastinateJob cancel": "O SU",
    "procrastinate.ProcrastinateJob abort": "O SU",
}

# The site's own pages (URL names): who may.
SITE: dict[str, str] = {
    "admin:index": ALL_STAFF,
    "admin:password_change": ALL_STAFF,
    "admin:password_change_done": ALL_STAFF,
    "admin:jsi18n": ALL_STAFF,
    "admin-dashboard": EVERYONE,
    "admin-dashboard-liability-csv": EVERYONE,
    "admin-jobs": "O SU",  # loyalty.run_jobs
}

# Admin site URLs the matrix does not request, and why.
NOT_REQUESTED = {
    "admin:login": "the page anonymous visitors are sent to",
    "admin:logout": "ends the session the next checks need (tests/config covers it)",
    "admin:view_on_site": "no model has get_absolute_url (asserted), so it has nothing to open",
    "admin:autocomplete": "requested once per autocomplete field of every admin",
    "admin:app_list": "requested once per app (allowed to whoever may see one of its models)",
}

# Pages that answer an allowed GET with a redirect: the program settings are one record (the
# list opens it); a rejection is a POST from the request's page, which a GET is sent back to.
GET_REDIRECTS = {"loyalty.ProgramSettings changelist", "loyalty_adjustmentrequest_reject"}

# Views that take one method only: the other answers 405 to whoever may use the view.
ONE_METHOD = {
    "segments_segment_count": "POST",
    "webhooks_delivery_replay": "POST",
    "messaging_messagetemplate_test": "POST",
    "admin:jsi18n": "GET",
    "admin:password_change_done": "GET",
}


def who(codes: str) -> set[str]:
    return set(codes.split())
