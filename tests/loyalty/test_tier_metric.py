"""The tier metric (`loyalty.selectors.tier_metric`): spend, orders or growth value, and every
user of it: the order path, refunds, bonuses outside orders, one member's evaluation, the
set-based evaluation's SQL, the what-if and the import."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.errors import ServiceError
from config.languages import date_text
from loyalty.models import ProgramSettings, Tier, TierChange, TierEvaluationRun
from loyalty.selectors.tier_metric import (
    Metric,
    metric_by_member,
    metric_sql,
    metric_value,
)
from loyalty.selectors.tier_whatif import LadderTier, current_ladder, tier_what_if
from loyalty.selectors.tiers import qualification_window
from loyalty.services.points import points_award
from loyalty.services.tier_config import tier_save
from loyalty.services.tiers import tier_evaluate_all
from tests.loyalty.tiers_helpers import changes, held, settings_set

DAY = dt.timedelta(days=1)
ORDERS, GROWTH, SPEND = "orders", "growth_value", "qualifying_spend"


def ladder_make(actor, metric: str, thresholds: list[str], *, sources=()) -> list[Tier]:
    """Member (0) and the given thresholds as Silver, Gold, Platinum, on `metric`."""
    changes_ = {"tier_metric": metric}
    if sources:
        changes_["growth_sources"] = list(sources)
    settings_set(**changes_)
    names = ["Member", "Silver", "Gold", "Platinum"]
    multipliers = ["1.00", "1.25", "1.50", "2.00"]
    for rank, threshold in enumerate(["0", *thresholds]):
        tier_save(
            actor=actor,
            code=names[rank].lower(),
            name=names[rank],
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multipliers[rank]),
        )
    return list(Tier.objects.order_by("rank"))


def bonus(member, points: int, source_id: str, *, at: dt.datetime, actor):
    """A campaign bonus outside an order, as the campaigns app awards one."""
    with transaction.atomic():
        return points_award(
            member=member,
            points=points,
            campaign_code="c",
            idempotency_key=f"test:{member.pk}:{source_id}",
            actor=actor,
            source_id=source_id,
            now=at,
        )


def field(caught) -> str:
    return caught.value.errors[0]["field"]


def values(member, at: dt.datetime) -> dict:
    """(member's figure) under each metric and growth source, read one member at a time."""
    window = qualification_window(as_of=at, qualification="rolling_365")
    metrics = {
        "spend": Metric(SPEND),
        "orders": Metric(ORDERS),
        "growth_orders": Metric(GROWTH, ("orders",)),
        "growth_review": Metric(GROWTH, ("review",)),
        "growth_birthday": Metric(GROWTH, ("birthday",)),
        "growth_other": Metric(GROWTH, ("other_actions",)),
        "growth_all": Metric(GROWTH, ("orders", "review", "birthday", "other_actions")),
    }
    return {
        k: metric_value(member_id=member.pk, window=window, metric=m) for k, m in metrics.items()
    }


def by_sql(metric: Metric, at: dt.datetime) -> dict:
    """Every member's figure through the daily evaluation's SQL (`metric_sql`)."""
    window = qualification_window(as_of=at, qualification="rolling_365")
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            metric_sql(metric, window_op=">", scope=""),
            {
                "start": ops.adapt_datetimefield_value(window.start),
                "end": ops.adapt_datetimefield_value(window.end),
            },
        )
        return {member_id: metric.value(figure) for member_id, figure in cursor.fetchall()}


# --- the figures -----------------------------------------------------------------------------


def test_each_metric_counts_exactly_what_it_says_one_member_and_set_based(
    db, make_member, record_order, record_refund, system_actor
):
    # given: orders, a partial and a full refund, bonuses of several kinds, an old order
    now = timezone.now().replace(microsecond=0)
    member, other = make_member(), make_member()
    record_order(member, "M-1", "100.00", placed_at=now - 10 * DAY)
    record_order(member, "M-2", "30.00", placed_at=now - 9 * DAY)
    record_order(member, "M-OLD", "500.00", placed_at=now - 400 * DAY)
    record_order(other, "X-1", "70.00", placed_at=now - 3 * DAY)
    record_refund("M-1", "R-1", "40.00", now=now - 8 * DAY)
    record_refund("M-2", "R-2", "30.00", now=now - 8 * DAY)
    bonus(member, 50, "review:R-9", at=now - 5 * DAY, actor=system_actor)
    bonus(member, 30, "birthday:2026", at=now - 4 * DAY, actor=system_actor)
    bonus(member, 5, "daily-sign-in:2026-12-01", at=now - 2 * DAY, actor=system_actor)
    bonus(member, 7, "reviewer-of-the-month:11", at=now - 2 * DAY, actor=system_actor)
    bonus(member, 99, "review:OLD", at=now - 380 * DAY, actor=system_actor)

    # then: spend 60.00 (100 − 40 + 30 − 30); one order still counts (M-2 refunded in full);
    # growth from orders 60 (100 + 30 earned, 40 + 30 reversed); the sources apart; the prefix
    # of another word is another action (reviewer-of-the-month is not a review)
    assert values(member, now) == {
        "spend": Decimal("60.00"),
        "orders": 1,
        "growth_orders": 60,
        "growth_review": 50,
        "growth_birthday": 30,
        "growth_other": 12,
        "growth_all": 152,
    }
    # and the set-based SQL and the what-if's aggregate agree with it, member by member
    window = qualification_window(as_of=now, qualification="rolling_365")
    for metric in (
        Metric(SPEND),
        Metric(ORDERS),
        Metric(GROWTH, ("orders", "review", "birthday", "other_actions")),
        Metric(GROWTH, ("review",)),
    ):
        expected = {
            m.pk: metric_value(member_id=m.pk, window=window, metric=metric)
            for m in (member, other)
        }
        assert {k: by_sql(metric, now).get(k, metric.value(None)) for k in expected} == expected
        assert {
            k: metric_by_member(window=window, metric=metric).get(k, metric.value(None))
            for k in expected
        } == expected


def test_growth_value_never_goes_below_zero(db, make_member, record_order, record_refund):
    # given: an order placed 400 days ago, refunded in full today: its reversal is in the window
    now = timezone.now().replace(microsecond=0)
    member = make_member()
    record_order(member, "OLD-1", "80.00", placed_at=now - 400 * DAY, now=now - 400 * DAY)
    record_refund("OLD-1", "R-OLD", "80.00", now=now - DAY)

    # then: −80 points in the window, shown as 0 (one member and set-based)
    metric = Metric(GROWTH, ("orders",))
    window = qualification_window(as_of=now, qualification="rolling_365")
    assert metric_value(member_id=member.pk, window=window, metric=metric) == 0
    assert by_sql(metric, now) == {member.pk: 0}


# --- the order path, refunds and bonuses -----------------------------------------------------


def test_an_orders_ladder_climbs_on_the_number_of_orders_and_a_full_refund_takes_one_away(
    db, make_member, record_order, record_refund, system_actor
):
    # given: Silver at 2 orders, Gold at 3
    ladder_make(system_actor, ORDERS, ["2", "3", "5"])
    member = make_member()
    t = timezone.now().replace(microsecond=0) - 10 * DAY

    # when / then
    record_order(member, "A-1", "10.00", placed_at=t)
    assert held(member) == "member"
    record_order(member, "A-2", "10.00", placed_at=t + DAY)
    assert held(member) == "silver"
    record_refund("A-2", "R-2", "10.00", now=t + 2 * DAY)
    record_order(member, "A-3", "10.00", placed_at=t + 3 * DAY)
    assert held(member) == "silver"  # A-2 refunded in full: 2 orders count, not 3
    record_order(member, "A-4", "10.00", placed_at=t + 4 * DAY)
    assert held(member) == "gold"
    assert changes(member) == [
        ("member", "silver", "upgrade", None, "Order A-2"),
        ("silver", "gold", "upgrade", None, "Order A-4"),
    ]
    assert list(
        TierChange.objects.filter(member=member)
        .order_by("at")
        .values_list("qualifying_value", flat=True)
    ) == [2, 3]


def test_a_growth_ladder_climbs_at_once_on_a_bonus_outside_an_order(
    db, make_member, record_order, system_actor
):
    # given: growth value from orders and reviews; Silver at 150
    ladder_make(system_actor, GROWTH, ["150", "400", "900"], sources=["orders", "review"])
    member = make_member()
    t = timezone.now().replace(microsecond=0) - 5 * DAY
    record_order(member, "G-1", "100.00", placed_at=t)  # 100 points
    bonus(member, 40, "birthday:2026", at=t + DAY, actor=system_actor)  # does not count
    assert held(member) == "member"

    # when: a review's bonus
    bonus(member, 50, "review:R-1", at=t + 2 * DAY, actor=system_actor)

    # then: 150 reached at the bonus
    assert held(member) == "silver"
    change = TierChange.objects.get(member=member)
    assert (change.kind, change.qualifying_value, change.qualifying_spend, change.at) == (
        "upgrade",
        150,
        None,
        t + 2 * DAY,
    )
    assert change.note == "Bonus review:R-1"


def test_the_order_path_reads_the_metric_in_as_many_statements_as_the_spend(
    db, make_member, record_order, system_actor
):
    """No per-order statement is added: the orders and growth ladders read their figure in the
    one statement the spend ladder reads its spend in (thresholds nobody reaches here)."""
    from loyalty.services.program import program_settings_update
    from members.actors import Actor

    ladder_make(system_actor, SPEND, ["1000", "2000", "5000"])
    counts = {}
    t = timezone.now().replace(microsecond=0) - 5 * DAY
    for metric in (SPEND, ORDERS, GROWTH, SPEND):
        program_settings_update(
            actor=Actor.system("tests"),
            tier_metric=metric,
            growth_sources=["orders", "review"],
            confirm_reevaluation=True,
        )
        member = make_member()
        record_order(member, None, "10.00", placed_at=t)  # warm the caches
        with CaptureQueriesContext(connection) as queries:
            record_order(member, None, "10.00", placed_at=t + DAY)
        counts[metric] = len(queries)
    assert counts[ORDERS] == counts[SPEND]
    assert counts[GROWTH] == counts[SPEND]


# --- validation and changing the metric ------------------------------------------------------


def test_thresholds_of_a_counting_ladder_are_whole_numbers_and_growth_needs_a_source(
    db, system_actor
):
    ladder_make(system_actor, ORDERS, ["2", "3", "5"])
    with pytest.raises(ServiceError) as caught:
        tier_save(
            actor=system_actor,
            code="diamond",
            name="Diamond",
            rank=4,
            threshold=Decimal("7.50"),
            multiplier=Decimal("2.50"),
        )
    assert caught.value.code == "validation_error"
    assert caught.value.errors[0]["field"] == "threshold"

    with pytest.raises(ServiceError) as caught:
        settings_set(tier_metric=GROWTH, growth_sources=[])
    assert (caught.value.code, field(caught)) == ("validation_error", "growth_sources")
    with pytest.raises(ServiceError) as caught:
        settings_set(growth_sources=["orders", "horoscopes"])
    assert (caught.value.code, field(caught)) == ("validation_error", "growth_sources")


def test_a_spend_ladder_with_cents_cannot_switch_to_counting(db, system_actor):
    ladder_make(system_actor, SPEND, ["249.99", "500.00", "1000.00"])
    with pytest.raises(ServiceError) as caught:
        settings_set(tier_metric=ORDERS)
    assert (caught.value.code, field(caught)) == ("validation_error", "tier_metric")


def test_changing_the_metric_of_a_live_ladder_needs_the_reevaluation_confirmed(
    db, make_member, record_order, system_actor
):
    # given: a spend ladder a member climbed
    ladder_make(system_actor, SPEND, ["250", "500", "1000"])
    member = make_member()
    now = timezone.now().replace(microsecond=0)
    record_order(member, "S-1", "300.00", placed_at=now - 3 * DAY)
    record_order(member, "S-2", "20.00", placed_at=now - 2 * DAY)
    tier_evaluate_all(as_of=now - DAY, actor=system_actor)
    assert held(member) == "silver"

    # when: Marketing switches to orders without confirming: refused, nothing changed
    with pytest.raises(ServiceError) as caught:
        settings_set(tier_metric=ORDERS)
    assert (caught.value.code, field(caught)) == (
        "tier_metric_change_unconfirmed",
        "tier_metric",
    )
    assert ProgramSettings.objects.get().tier_metric == SPEND

    # when: confirmed (the thresholds are whole numbers: 250 orders for Silver)
    from loyalty.services.program import program_settings_update
    from members.actors import Actor

    program_settings_update(
        actor=Actor.system("tests"), tier_metric=ORDERS, confirm_reevaluation=True
    )

    # then: the next daily run evaluates everyone (another configuration); the member keeps
    # Silver through the hold (2 orders are below 250), as after a threshold change
    tier_evaluate_all(as_of=now, actor=system_actor)
    run = TierEvaluationRun.objects.order_by("-pk").first()
    assert run.full is True
    assert held(member) == "silver"


# --- what-if ---------------------------------------------------------------------------------


def test_the_what_if_of_an_orders_ladder_counts_orders(db, make_member, record_order, system_actor):
    # given: members with 1, 2 and 4 orders on an orders ladder (2, 3, 5)
    ladder_make(system_actor, ORDERS, ["2", "3", "5"])
    t = timezone.now().replace(microsecond=0) - 20 * DAY
    for n in (1, 2, 4):
        member = make_member()
        for i in range(n):
            record_order(member, f"W{n}-{i}", "10.00", placed_at=t + i * DAY)
    # (the order path placed them: 1 → member, 2 → silver, 4 → gold)

    # when: Platinum would start at 4 orders (Gold at 3 as before)
    ladder = current_ladder()
    proposed = [
        ladder[0],
        ladder[1],
        LadderTier(ladder[2].tier_id, "gold", "Gold", 2, Decimal("3"), Decimal("1.50")),
        LadderTier(ladder[3].tier_id, "platinum", "Platinum", 3, Decimal("4"), Decimal("2.00")),
    ]
    result = tier_what_if(proposed=proposed)

    # then: the member with 4 orders moves up to Platinum; nobody else moves
    assert [(r.code, r.members_before, r.members_after) for r in result.rows] == [
        ("member", 1, 1),
        ("silver", 1, 1),
        ("gold", 1, 0),
        ("platinum", 0, 1),
    ]
    assert (result.moves_up, result.moves_down) == (1, 0)


# --- the API: units explicit -----------------------------------------------------------------


def test_the_api_names_the_metric_and_gives_counts_as_whole_numbers(
    api_client, make_member, record_order, system_actor
):
    # given: an orders ladder (Silver 2, Gold 3, Platinum 5) and a member with one order
    ladder_make(system_actor, ORDERS, ["2", "3", "5"])
    member = make_member(external_id="C-ORD")
    placed = timezone.now().replace(microsecond=0) - 10 * DAY
    record_order(member, "API-1", "25.00", placed_at=placed)

    # when
    tiers = api_client.get("/api/v1/tiers").json()
    progress = api_client.get("/api/v1/members/C-ORD").json()["progress"]

    # then: the ladder counts orders, thresholds as whole numbers, the money fields null
    assert tiers["metric"] == "orders"
    assert [(t["code"], t["threshold"], t["threshold_value"]) for t in tiers["results"]] == [
        ("member", None, 0),
        ("silver", None, 2),
        ("gold", None, 3),
        ("platinum", None, 5),
    ]
    by = timezone.localdate(placed + 365 * DAY) - DAY
    assert {k: v for k, v in progress.items() if k != "explanation"} == {
        "metric": "orders",
        "currency": "GBP",
        "window_start": progress["window_start"],
        "window_end": progress["window_end"],
        "qualifying_spend": None,
        "qualifying_value": 1,
        "next_tier": {
            "code": "silver",
            "name": "Silver",
            "threshold": None,
            "remaining": None,
            "threshold_value": 2,
            "remaining_value": 1,
            "by": by.isoformat(),
            "perks": [],
        },
        "keep_tier": None,
    }
    assert progress["explanation"] == (f"Place 1 more order by {date_text(by)} to reach Silver.")


def test_the_spend_summary_keeps_its_money_fields_and_shows_the_new_ones_null(
    api_client, make_member, record_order, system_actor
):
    ladder_make(system_actor, SPEND, ["250", "500", "1000"])
    member = make_member(external_id="C-SPEND")
    record_order(member, "SP-1", "100.00", placed_at=timezone.now() - 10 * DAY)

    progress = api_client.get("/api/v1/members/C-SPEND").json()["progress"]

    assert (progress["metric"], progress["qualifying_spend"], progress["qualifying_value"]) == (
        "qualifying_spend",
        "100.00",
        None,
    )
    next_tier = progress["next_tier"]
    assert [
        next_tier[k] for k in ("threshold", "remaining", "threshold_value", "remaining_value")
    ] == [
        "250.00",
        "150.00",
        None,
        None,
    ]


# --- the configuration file ------------------------------------------------------------------


def test_a_configuration_file_switches_a_live_ladder_to_orders_with_its_thresholds(
    db, make_member, record_order, system_actor
):
    from loyalty.services.program_config import program_config_import

    # given: a live spend ladder
    ladder_make(system_actor, SPEND, ["250", "500", "1000"])
    member = make_member()
    record_order(member, "CF-1", "300.00", placed_at=timezone.now() - DAY)
    assert held(member) == "silver"
    tiers = [
        {"code": c, "name": c.title(), "rank": r, "threshold": t, "multiplier": m}
        for r, (c, t, m) in enumerate(
            [
                ("member", "0", "1"),
                ("silver", "2", "1.25"),
                ("gold", "3", "1.5"),
                ("platinum", "5", "2"),
            ]
        )
    ]

    # when: a file with a threshold in cents on an orders ladder: refused, by its path
    bad = [dict(t) for t in tiers]
    bad[2]["threshold"] = "3.50"
    with pytest.raises(ServiceError) as caught:
        program_config_import(
            document={"version": 1, "settings": {"tier_metric": "orders"}, "tiers": bad},
            actor=system_actor,
        )
    assert caught.value.code == "config_invalid"
    assert [e["field"] for e in caught.value.errors] == ["tiers[2].threshold"]

    # when: the whole file (metric and thresholds): the file confirms the re-evaluation
    report = program_config_import(
        document={"version": 1, "settings": {"tier_metric": "orders"}, "tiers": tiers},
        actor=system_actor,
    )

    # then: the what-if counted orders (1 order: Member after the hold), and the ladder counts them
    assert report.what_if is not None
    assert ProgramSettings.objects.get().tier_metric == ORDERS
    assert [r.members_after for r in report.what_if.rows] == [0, 1, 0, 0]
    assert held(member) == "silver"
