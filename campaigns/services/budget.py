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
1. one stripe that can cover the whole award: on PostgreSQL the first, from its member's own
   (`member_id % stripes`) onwards, that no other transaction holds (`FOR UPDATE SKIP LOCKED`,
   one statement): it never waits and locks only the stripe it updates, so orders on one stripe
   do not queue and nothing is ever held out of step 2's order (no savepoint needed: a stripe
   that cannot cover the award is not locked). Elsewhere: the member's own stripe.
2. otherwise (the campaign is nearly spent, or its stripe is): every stripe with budget left, in
   stripe order, locked in that order (`SELECT ... ORDER BY stripe FOR UPDATE`), and the award
   takes from them in that order until it is covered or they are all spent.

Lock order: the member's account (the caller), then per campaign (in key order) either one stripe
(step 1, which waits for nobody) or stripes in ascending order (step 2): a transaction that locks
a stripe in step 1 never waits for another stripe of that campaign, so no two orders can wait
for each other. Budget
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
    if _one_stripe_take(campaign_id=campaign.pk, own=member_id % STRIPES, points=points):
        return points
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


_one_stripe_sql: dict[str, str] = {}


def _one_stripe_take(*, campaign_id: int, own: int, points: int) -> bool:
    """Step 1: add the whole award to one stripe that can cover it, in one statement (its SQL
    built once per backend: every budgeted award of the order path runs it). True if done.

    PostgreSQL: the first stripe from the member's own (`own`, then `own + 1`, ... wrapping)
    that can cover it and that no other transaction holds (`FOR UPDATE SKIP LOCKED`): it never
    waits, and it locks only the stripe it then updates (the condition is checked again on the
    row's latest version once locked), so it never holds a stripe out of step 2's order, and
    orders on one stripe do not queue behind each other. Elsewhere (SQLite, one writer at a
    time): the member's own stripe, if it can cover it.
    """
    connection = transaction.get_connection()
    sql = _one_stripe_sql.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        meta = CampaignBudgetStripe._meta
        table = qn(meta.db_table)
        awarded = qn(meta.get_field("points_awarded").column)
        budget = qn(meta.get_field("budget_points").column)
        campaign = qn(meta.get_field("campaign").column)
        stripe = qn(meta.get_field("stripe").column)
        pk = qn(meta.pk.column)
        if connection.vendor == "postgresql":
            where = (
                f"{pk} = (SELECT {pk} FROM {table} WHERE {campaign} = %s "
                f"AND {awarded} <= {budget} - %s "
                f"ORDER BY mod({stripe} - %s + {STRIPES}, {STRIPES}) "
                "LIMIT 1 FOR UPDATE SKIP LOCKED)"
            )
        else:
            where = f"{campaign} = %s AND {awarded} <= {budget} - %s AND {stripe} = %s"
        sql = _one_stripe_sql[connection.vendor] = (
            f"UPDATE {table} SET {awarded} = {awarded} + %s WHERE {where}"
        )
    with hot_cursor(connection) as cursor:
        cursor.execute(sql, [points, campaign_id, points, own])
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
