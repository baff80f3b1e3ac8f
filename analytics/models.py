"""Daily rollups: the program's figures per day, kept so the dashboard never scans the ledger.

Derived data, rebuilt from the ledger, the orders, the members and the tier history at any time
(`manage.py rollups_rebuild`); nothing else reads them but the dashboard. Invariants:

- [db] one `DailyRollup` per (day, tier, paid plan), one `DailyTotals` per day, one
  `MonthlyCohort` per (month, enrolment month, tier, paid plan).
- A day's rows are replaced whole, in one transaction (`analytics.services.rollups`): a reader
  sees the old day or the new day, never half of each.
- Σ over a day's `DailyRollup` rows of any figure equals the same figure recomputed from the
  source tables for that day (`tests/analytics/test_rollups.py` checks it on both engines).
- Days are calendar days in the program's time zone (`TIME_ZONE`). Each member's rows of a day
  go to the tier and paid plan they hold at the end of that day (`tier_id` 0: no tier decided,
  i.e. the entry tier; `plan_id` 0: no paid plan); tier moves go to the tiers they name.
- No model permissions: the tables have no admin page; the dashboard is read through
  `members.view_member` (`analytics.dashboard`).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


def _points() -> models.BigIntegerField:
    return models.BigIntegerField(default=0)


def _count() -> models.IntegerField:
    return models.IntegerField(default=0)


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))


class DailyRollup(models.Model):
    """One day's figures for the members of one tier and paid plan (points > 0 moved that way)."""

    day = models.DateField()
    tier_id = models.IntegerField(default=0)  # no foreign key: a derived table never blocks
    plan_id = models.IntegerField(default=0)
    # Points, by kind (positive amounts in the stated direction; `adjusted`, `staff_reversed`
    # and `net_change` are signed).
    earned = _points()
    tier_bonus = _points()
    campaign_bonus = _points()
    redeemed = _points()  # spent − given back on cancelled redemptions
    expired = _points()
    refund_reversed = _points()
    adjusted = _points()
    staff_reversed = _points()
    net_change = _points()  # Σ of every posting of the day
    # Members
    new_members = _count()  # enrolled on the day
    tier_joined = _count()  # enrolments (into the entry tier) + tier changes into this tier
    tier_left = _count()  # tier changes out of this tier
    # Orders
    orders = _count()
    revenue = _money()  # Σ eligible amount, program currency
    buyers = _count()  # members with an order on the day
    repeat_buyers = _count()  # of those, members with an earlier order (any time before)
    retained_90 = _count()  # of the buyers, members who ordered again on a day in the next 90
    # Feedback submitted on the day (`feedback.Feedback`, by `created_at`)
    nps_promoters = _count()  # NPS answers 9–10
    nps_passives = _count()  # 7–8
    nps_detractors = _count()  # 0–6
    csat_responses = _count()  # CSAT answers (1–5)
    csat_total = _count()  # Σ of their scores

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["day", "tier_id", "plan_id"], name="rollup_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} tier {self.tier_id} plan {self.plan_id}"


class DailyTotals(models.Model):
    """One day's figures that do not split by tier: active members and guests."""

    day = models.DateField(unique=True)
    active_members = _count()  # members with an order in the 30 days ending with this day
    reached_expiry = _points()  # Σ points of the lots whose expiry date falls on this day
    guest_orders = _count()
    guest_revenue = _money()
    guest_buyers = _count()  # distinct guests (guest keys) with an order on the day
    guest_repeat_buyers = _count()
    guest_retained_90 = _count()  # of the guest buyers, those who ordered again within 90 days

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return str(self.day)


class MonthlyCohort(models.Model):
    """One calendar month's orders by the members of one enrolment month, tier and paid plan
    (the tier and plan held at the end of the month, or of today for the current month)."""

    month = models.DateField()  # the first day of the month the orders were placed in
    cohort = models.DateField()  # the first day of the members' enrolment month
    tier_id = models.IntegerField(default=0)
    plan_id = models.IntegerField(default=0)
    buyers = _count()  # distinct members with an order in the month
    orders = _count()
    revenue = _money()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["month", "cohort", "tier_id", "plan_id"], name="cohort_month_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month} cohort {self.cohort} tier {self.tier_id} plan {self.plan_id}"


class LiabilitySnapshot(models.Model):
    """The outstanding points aged by expiry, as they stood when `taken_at` (one per day: the
    lots' `remaining` changes, so an old day cannot be recomputed later)."""

    day = models.DateField(unique=True)
    taken_at = models.DateTimeField()
    pending = _points()
    within_30 = _points()
    within_90 = _points()  # 31–90 days
    within_180 = _points()  # 91–180 days
    within_365 = _points()  # 181–365 days
    later = _points()
    never = _points()
    debt = _points()  # owed by members in debt (not netted)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"liability {self.day}"

    @property
    def outstanding(self) -> int:
        return (
            self.pending
            + self.within_30
            + self.within_90
            + self.within_180
            + self.within_365
            + self.later
            + self.never
        )


class RollupState(models.Model):
    """The single row saying up to which rows the rollups have been refreshed (by id)."""

    posting_id = models.BigIntegerField(default=0)
    order_id = models.BigIntegerField(default=0)
    member_id = models.BigIntegerField(default=0)
    tier_change_id = models.BigIntegerField(default=0)
    guest_order_id = models.BigIntegerField(default=0)
    feedback_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"rollups up to posting {self.posting_id}"
