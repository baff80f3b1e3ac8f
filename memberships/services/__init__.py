"""Every write of the memberships app (`<entity>_<action>`, keyword-only): see each module."""

from memberships.services.daily import memberships_daily, memberships_lapse_and_expire
from memberships.services.lifecycle import membership_cancel, membership_renew, membership_start
from memberships.services.plans import plan_save
from memberships.services.refunds import (
    membership_perk_usage_record,
    membership_refund,
    membership_refund_quote,
    refund_quote,
)

__all__ = [
    "membership_cancel",
    "membership_perk_usage_record",
    "membership_refund",
    "membership_refund_quote",
    "membership_renew",
    "membership_start",
    "memberships_daily",
    "memberships_lapse_and_expire",
    "plan_save",
    "refund_quote",
]
