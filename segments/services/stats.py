"""The nightly refresh of member statistics and RFM scores: set-based, off the earn path.

Why a daily refresh and not the order writer: the earn path is kept to the fewest statements
an order can cost (`docs/ledger.md`, "The earn path"); one more upsert per order would be paid by
every order, while segments, RFM and suggestions are read by people and jobs that are happy with
yesterday's figures. The cost: statistics are as old as the last refresh (`docs/segments.md`,
"Staleness").

Invariants:
- One statement writes every member's row (statistics, RFM scores and group) from the orders:
  members without orders get zeros and no scores. Its transaction also writes a
  `segment.exited` / `segment.entered` event for each member whose RFM group changed, so a
  group change and its events commit together; a second run the same day changes nothing and
  emits nothing.
- Categories and SKUs are listed from the orders' items incrementally (orders after the last
  run's `last_order_id`): a product once bought stays bought. `full=True` rebuilds them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from events.models import Event, EventType, MemberEventCounter
from events.schemas import SCHEMA_VERSION
from events.services import EXTERNAL_ID_KEY, NewEvent, event_new, events_record
from loyalty.models import Order
from members.models import Member
from segments.models import MemberProduct, MemberStats, StatsRefresh
from segments.rfm import quintile_sql, rfm_group_sql

EVENT_BATCH = 5000


def rfm_window_days() -> int:
    return int(getattr(settings, "SEGMENTS_RFM_WINDOW_DAYS", 365))


@dataclass
class RefreshReport:
    members: int = 0  # statistics rows written (new, or a figure changed); the rest were kept
    products: int = 0
    group_changes: int = 0
    seconds: float = 0.0


def _t(value: dt.datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _stats_sql() -> str:
    stats = MemberStats._meta.db_table
    orders = Order._meta.db_table
    members = Member._meta.db_table
    net = "(o.eligible_amount - o.refunded_amount)"
    scored = "a.w_n > 0"
    return f"""
    WITH agg AS (
        SELECT o.member_id, MIN(o.placed_at) AS first_at, MAX(o.placed_at) AS last_at,
               COUNT(*) AS n, SUM({net}) AS spend,
               SUM(CASE WHEN o.placed_at >= %(since_365)s THEN 1 ELSE 0 END) AS n_365,
               SUM(CASE WHEN o.placed_at >= %(since_365)s THEN {net} ELSE 0 END) AS spend_365,
               SUM(CASE WHEN o.placed_at >= %(since_rfm)s THEN 1 ELSE 0 END) AS w_n,
               SUM(CASE WHEN o.placed_at >= %(since_rfm)s THEN {net} ELSE 0 END) AS w_spend
        FROM {orders} o WHERE o.placed_at <= %(now)s GROUP BY o.member_id
    ),
    ranked AS (
        SELECT a.member_id, {quintile_sql("a.last_at")} AS r, {quintile_sql("a.w_n")} AS f,
               {quintile_sql("a.w_spend")} AS m
        FROM agg a WHERE {scored}
    )
    INSERT INTO {stats} (member_id, first_order_at, last_order_at, orders_count, spend_lifetime,
        orders_365, spend_365, country, rfm_orders, rfm_spend, recency_score, frequency_score,
        monetary_score, rfm_group, previous_rfm_group, refreshed_at)
    SELECT mb.id, a.first_at, a.last_at, COALESCE(a.n, 0), COALESCE(a.spend, 0),
        COALESCE(a.n_365, 0), COALESCE(a.spend_365, 0), mb.country, COALESCE(a.w_n, 0),
        COALESCE(a.w_spend, 0), q.r, q.f, q.m,
        CASE WHEN q.r IS NULL THEN '' ELSE {rfm_group_sql("q.r", "q.f", "q.m")} END, '',
        %(now)s
    FROM {members} mb LEFT JOIN agg a ON a.member_id = mb.id
    LEFT JOIN ranked q ON q.member_id = mb.id
    WHERE 1 = 1
    ON CONFLICT (member_id) DO UPDATE SET first_order_at = excluded.first_order_at,
        last_order_at = excluded.last_order_at, orders_count = excluded.orders_count,
        spend_lifetime = excluded.spend_lifetime, orders_365 = excluded.orders_365,
        spend_365 = excluded.spend_365, country = excluded.country,
        rfm_orders = excluded.rfm_orders,
        rfm_spend = excluded.rfm_spend, recency_score = excluded.recency_score,
        frequency_score = excluded.frequency_score, monetary_score = excluded.monetary_score,
        previous_rfm_group = {stats}.rfm_group, rfm_group = excluded.rfm_group,
        refreshed_at = excluded.refreshed_at
    WHERE {_changed_sql(stats)}
    """


# The columns a refresh recomputes. A row whose values all come out the same is not rewritten:
# on a typical night most members have no new order and keep their scores, and rewriting all of
# them (a new row version and index entries each, on a durable disk) was 25x the cost of the
# aggregate itself at 1,000,000 members. Its `refreshed_at` then stays the run that last changed
# it, and its figures are still exact as of that time (the audit reads them so).
_REFRESHED = (
    "first_order_at", "last_order_at", "orders_count", "spend_lifetime", "orders_365",
    "spend_365", "country", "rfm_orders", "rfm_spend", "recency_score", "frequency_score",
    "monetary_score", "rfm_group",
)  # fmt: skip


def _changed_sql(stats: str) -> str:
    """The upsert's condition for rewriting a row: a recomputed value differs, or its group
    changed at the last rewrite (`previous_rfm_group` is then brought level, so that change's
    events are not written twice)."""
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    terms = [f"{stats}.{column} {differs} excluded.{column}" for column in _REFRESHED]
    terms.append(f"{stats}.previous_rfm_group <> {stats}.rfm_group")
    return " OR ".join(terms)


def _products_sql(after_id: int, upto_id: int) -> tuple[str, list]:
    """INSERT the (member, kind, value) of every item of the orders in (after_id, upto_id]."""
    table = MemberProduct._meta.db_table
    orders = Order._meta.db_table
    if connection.vendor == "postgresql":
        source = (
            f"{orders} o CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN "
            f"jsonb_typeof(o.items) = 'array' THEN o.items ELSE '[]'::jsonb END) AS i"
        )
        sku, category = "LEFT(i->>'sku', 64)", "LEFT(i->>'category', 64)"
    else:
        source = f"{orders} o, json_each(CASE WHEN json_type(o.items) = 'array' THEN o.items ELSE '[]' END) AS i"  # noqa: E501
        sku = "SUBSTR(json_extract(i.value, '$.sku'), 1, 64)"
        category = "SUBSTR(json_extract(i.value, '$.category'), 1, 64)"
    selects = [
        f"SELECT DISTINCT o.member_id, '{kind}', {expr} FROM {source} "
        f"WHERE o.id > %s AND o.id <= %s AND COALESCE({expr}, '') <> ''"
        for kind, expr in ((MemberProduct.Kind.SKU, sku), (MemberProduct.Kind.CATEGORY, category))
    ]
    sql = (
        f"INSERT INTO {table} (member_id, kind, value) {' UNION '.join(selects)} "
        f"ON CONFLICT (kind, value, member_id) DO NOTHING"
    )
    return sql, [after_id, upto_id, after_id, upto_id]


def _group_events(now: dt.datetime) -> int:
    """segment.exited then segment.entered for every member whose RFM group just changed."""
    if connection.vendor == "postgresql":
        return _group_events_pg(now)
    rows = (
        MemberStats.objects.exclude(rfm_group=F("previous_rfm_group"))
        .values_list("member_id", "member__external_id", "previous_rfm_group", "rfm_group")
        .order_by("member_id")
    )
    changed = 0
    batch: list[NewEvent] = []
    for member_id, external_id, before, after in rows.iterator(chunk_size=EVENT_BATCH):
        changed += 1
        for type_, group in (
            (EventType.SEGMENT_EXITED, before),
            (EventType.SEGMENT_ENTERED, after),
        ):
            if group:
                batch.append(
                    NewEvent(
                        type=type_,
                        member_id=member_id,
                        member_external_id=external_id,
                        payload={"segment": f"rfm:{group}", "kind": "rfm"},
                        occurred_at=now,
                    )
                )
        if len(batch) >= EVENT_BATCH:
            events_record(events=batch)
            batch = []
    events_record(events=batch)
    return changed


# PostgreSQL: the events of every group change in one statement (a cold start changes every
# member's group: 1,000,000 members were 2,000,000 events built in Python). The counters are
# upserted in member-id order, as `events_record` does; each member's exited event comes before
# its entered one, numbered after the counter's previous last.
_GROUP_EVENTS_SQL = """
WITH ch AS (
  SELECT s.member_id, m.external_id, s.previous_rfm_group AS before, s.rfm_group AS after
  FROM {stats} s JOIN {members} m ON m.id = s.member_id
  WHERE s.rfm_group <> s.previous_rfm_group
),
evs AS (
  SELECT member_id, external_id, 1 AS ord, %s AS type, before AS grp FROM ch WHERE before <> ''
  UNION ALL
  SELECT member_id, external_id, 2, %s, after FROM ch WHERE after <> ''
),
cnt AS (SELECT member_id, count(*) AS n FROM evs GROUP BY member_id),
ec AS (
  INSERT INTO {counter} (member_id, last) SELECT member_id, n FROM cnt ORDER BY member_id
  ON CONFLICT (member_id) DO UPDATE SET last = {counter}.last + EXCLUDED.last
  RETURNING member_id, last
),
ev AS (
  INSERT INTO {event} (uuid, type, occurred_at, member_id, sequence, schema_version, payload)
  SELECT gen_random_uuid(), evs.type, %s, evs.member_id,
    ec.last - cnt.n + row_number() OVER (PARTITION BY evs.member_id ORDER BY evs.ord), %s,
    jsonb_build_object('{external_id}', evs.external_id, 'segment', 'rfm:' || evs.grp,
      'kind', 'rfm')
  FROM evs JOIN cnt USING (member_id) JOIN ec USING (member_id)
  ORDER BY evs.member_id, evs.ord
)
SELECT count(*) FROM ch
"""


def _group_events_pg(now: dt.datetime) -> int:
    # The payload is built in SQL: its keys are checked against the schema here, once per type.
    for type_ in (EventType.SEGMENT_EXITED, EventType.SEGMENT_ENTERED):
        event_new(type=type_, payload={"segment": "", "kind": ""}, member_external_id="-")
    sql = _GROUP_EVENTS_SQL.format(
        stats=MemberStats._meta.db_table,
        members=Member._meta.db_table,
        counter=MemberEventCounter._meta.db_table,
        event=Event._meta.db_table,
        external_id=EXTERNAL_ID_KEY,
    )
    params = [EventType.SEGMENT_EXITED, EventType.SEGMENT_ENTERED, now, SCHEMA_VERSION]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def stats_refresh(*, now: dt.datetime | None = None, full: bool = False) -> RefreshReport:
    """Rebuild every member's statistics and RFM scores as of `now` (set-based, one transaction)."""
    started = timezone.now()
    now = now or started
    report = RefreshReport()
    since_365 = now - dt.timedelta(days=365)
    since_rfm = now - dt.timedelta(days=rfm_window_days())
    with transaction.atomic():
        last = StatsRefresh.objects.order_by("-id").first()
        after_id = 0 if full or last is None else last.last_order_id
        top_id = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with connection.cursor() as cursor:
            cursor.execute(
                _stats_sql(),
                {"since_365": _t(since_365), "since_rfm": _t(since_rfm), "now": _t(now)},
            )
            # Rows written: new members and those whose figures changed. SQLite reports no row
            # count for an INSERT behind a WITH; the rows written are those stamped `now`.
            report.members = cursor.rowcount
            if report.members < 0:
                report.members = MemberStats.objects.filter(refreshed_at=now).count()
            if full:
                MemberProduct.objects.all().delete()
            cursor.execute(*_products_sql(after_id, top_id))
            report.products = max(cursor.rowcount, 0)
        report.group_changes = _group_events(now)
        StatsRefresh.objects.create(
            started_at=started,
            finished_at=timezone.now(),
            last_order_id=top_id,
            members=report.members,
            group_changes=report.group_changes,
            full=full,
        )
    report.seconds = (timezone.now() - started).total_seconds()
    return report


def stats_daily_step(*, as_of: dt.date, cutoff: dt.datetime, actor) -> int:
    """The daily job's step (`loyalty.hooks.daily_job_steps`): members refreshed."""
    return stats_refresh(now=cutoff).members
