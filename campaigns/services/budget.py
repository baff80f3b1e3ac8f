"""A campaign's budget as striped counters: exact, and no single row every order waits for.

Why: a budget kept as one counter on the campaign row made every order of every member wait for
the previous one's commit (the row lock is held until then), so a live campaign capped the whole
storefront at one commit at a time. Instead the budget is split into `STRIPES` rows
(`CampaignBudgetStripe`); Σ stripes' budget_points = the campaign's budget.

Invariants:
- [db] a stripe's points_awarded never exceeds its budget_points (a CHECK), so the campaign never
  awards more than its budget, whatever a bug in Python does.
- Σ stripes' points_awarded = Σ the campaign's awards' points (same transaction as the award's
  posting; `campaign_budgets_audit` recomputes it).
- An award gets min(points wanted, budget left) exactly, as with one counter: when a campaign's
  demand exceeds its budget, it awards its whole budget, and at most one award is cut short.

How an award takes budget (`budget_take`), inside the order's transaction:
1. its member's own stripe (`member_id % stripes`): one conditional UPDATE that adds the whole
   award if the stripe can cover it. It locks that stripe only; orders of members on other
   stripes do not wait. When it cannot cover it, the UPDATE's savepoint is rolled back, which
   releases the lock it may have taken (an UPDATE that waited for another award keeps the row
   locked even when its condition then fails).
2. otherwise (the campaign is nearly spent, or its stripe is): every stripe with budget left, in
   stripe order, locked in that order (`SELECT ... ORDER BY stripe FOR UPDATE`), and the award
   takes from them in that order until it is covered or they are all spent.

Lock order: the member's account (the caller), then per campaign (in key order) either one stripe
(step 1) or stripes in ascending order (step 2): a transaction that locks a stripe in step 1 never
waits for another stripe of that campaign, so no two orders can wait for each other. Budget
changes (`budget_stripes_set`) lock all the campaign's stripes in the same ascending order.
A stripe, once spent, stays spent until staff raise the budget; rows a waiting statement sees are
committed ones, so a rolled-back award's points go back to its stripe before anyone reads it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Sum

from campaigns.models import Campaign, CampaignAward, CampaignBudgetStripe
from config.prepared import hot_cursor

# Enough that 16-64 concurrent orders rarely meet on a stripe; few enough that a nearly spent
# campaign's walk over its stripes (step 2) stays short.
STRIPES = 8


def budget_take(*, campaign: Campaign, member_id: int, points: int) -> int:
    """Take up to `points` of the campaign's budget for one award: the points granted (0: spent).

    Inside the award's transaction (the member's account lock held); `campaign.budget_points` is
    not None.
    """
    own = member_id % STRIPES
    # In a savepoint: an UPDATE that waited for another award on this stripe and then found it
    # cannot cover this one still holds the row's lock (PostgreSQL locks the row before it checks
    # the condition again); rolling the savepoint back releases it, so step 2 locks in stripe
    # order only.
    savepoint = transaction.savepoint()
    if _own_stripe_take(campaign_id=campaign.pk, stripe=own, points=points):
        transaction.savepoint_commit(savepoint)
        return points
    transaction.savepoint_rollback(savepoint)
    stripes = CampaignBudgetStripe.objects.filter(campaign_id=campaign.pk)
    granted = 0
    left = stripes.filter(points_awarded__lt=F("budget_points")).order_by("stripe")
    for stripe in left.select_for_update():
        take = min(points - granted, stripe.budget_points - stripe.points_awarded)
        CampaignBudgetStripe.objects.filter(pk=stripe.pk).update(
            points_awarded=F("points_awarded") + take
        )
        granted += take
        if granted == points:
            break
    return granted


_own_stripe_sql: dict[str, str] = {}


def _own_stripe_take(*, campaign_id: int, stripe: int, points: int) -> bool:
    """Step 1: add `points` to one stripe if it can cover them (one conditional UPDATE, its SQL
    built once per backend: every budgeted award of the order path runs it)."""
    connection = transaction.get_connection()
    sql = _own_stripe_sql.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        meta = CampaignBudgetStripe._meta
        table = qn(meta.db_table)
        awarded = qn(meta.get_field("points_awarded").column)
        budget = qn(meta.get_field("budget_points").column)
        sql = _own_stripe_sql[connection.vendor] = (
            f"UPDATE {table} SET {awarded} = {awarded} + %s "
            f"WHERE {qn(meta.get_field('campaign').column)} = %s "
            f"AND {qn(meta.get_field('stripe').column)} = %s AND {awarded} <= {budget} - %s"
        )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [points, campaign_id, stripe, points])
        return cursor.rowcount > 0


def budget_shares(left: int, stripes: int = STRIPES) -> list[int]:
    """`left` points split over `stripes` as evenly as integers allow (the first ones get the
    remainder): Σ = left."""
    share, extra = divmod(left, stripes)
    return [share + (1 if i < extra else 0) for i in range(stripes)]


def budget_stripes_set(*, campaign: Campaign) -> int:
    """Make the campaign's stripes match its `budget_points` (just saved, in the caller's
    transaction): none without a budget; else what is left of the budget (budget − points
    awarded, which `campaign_validate` keeps ≥ 0) spread evenly again over `STRIPES` stripes,
    each keeping what it awarded. All stripes are locked first, in stripe order (the awards'
    lock order), so no award runs between the count and the new split. Returns the points the
    campaign has awarded (counted under those locks; 0 without a budget: not counted).
    """
    assert transaction.get_connection().in_atomic_block, "budget_stripes_set needs a transaction"
    existing = list(
        CampaignBudgetStripe.objects.select_for_update()
        .filter(campaign_id=campaign.pk)
        .order_by("stripe")
    )
    if campaign.budget_points is None:
        CampaignBudgetStripe.objects.filter(campaign_id=campaign.pk).delete()
        return 0
    if existing:
        awarded = sum(s.points_awarded for s in existing)
    else:
        # A budget set on a campaign that awarded without one: what it awarded counts against it.
        awarded = (
            CampaignAward.objects.filter(campaign_id=campaign.pk).aggregate(p=Sum("points"))["p"]
            or 0
        )
    shares = budget_shares(max(campaign.budget_points - awarded, 0))
    by_index = {s.stripe: s for s in existing}
    rows = []
    for i, share in enumerate(shares):
        stripe = by_index.pop(i, None) or CampaignBudgetStripe(
            campaign_id=campaign.pk,
            stripe=i,
            points_awarded=awarded if not existing and i == 0 else 0,
        )
        stripe.budget_points = stripe.points_awarded + share
        rows.append(stripe)
    # Stripes beyond `STRIPES` (had it been larger): their awarded points move to stripe 0.
    for extra in by_index.values():
        rows[0].points_awarded += extra.points_awarded
        rows[0].budget_points += extra.points_awarded
        extra.delete()
    for stripe in rows:
        if stripe.pk:
            CampaignBudgetStripe.objects.filter(pk=stripe.pk).update(
                budget_points=stripe.budget_points, points_awarded=stripe.points_awarded
            )
    CampaignBudgetStripe.objects.bulk_create([s for s in rows if not s.pk])
    return awarded
