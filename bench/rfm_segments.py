"""Member statistics, RFM, a segment count and suggestions at scale, on PostgreSQL.

One command (a private PostgreSQL cluster is created and thrown away):

    PG_DURABLE=1 flock /tmp/bench.lock scripts/with-postgres.sh \
        .venv/bin/python bench/rfm_segments.py --members 1000000 --orders 10000000

What it does:
1. Migrates and builds, set-based (`generate_series`, as `bench/tiers.py` does), N members with
   accounts and M orders over two years (amounts 5.00–125.00, power-2 spread of who orders, 5%
   partly refunded); a fifth of the orders carry an item with one of 2,000 SKUs in 40
   categories. Birth dates and consent spread over the members. `ANALYZE`.
2. Rounds A B (medians of `--rounds`):
   A. the floor: the refresh's aggregate alone (`SELECT member_id, count, sum … GROUP BY`);
   B. the nightly refresh (`stats_refresh`: statistics, RFM scores and groups, products since
      the last run, the group-change events) — the first round is the cold start (every member
      enters a group); later rounds are a typical night (nothing new).
3. A typical 3-condition segment count (`rfm_group in (at_risk, cannot_lose)` AND spend in the
   last 365 days ≥ 100.00 AND bought category "Cat 7"), median of 5.
4. Suggestions (`member_suggestions`) over a 50-reward catalogue for a typical member and for the
   busiest one, median of 20 each.

Targets (#19): refresh ≤ 60 s, count ≤ 1 s, suggestions ≤ 20 ms at 1,000,000 members and
10,000,000 orders. Figures in docs/benchmarks.md ("Segments").
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check
from tiers import insert_select, setup

SEGMENT = {
    "all": [
        {"field": "rfm_group", "op": "in", "value": ["at_risk", "cannot_lose"]},
        {"field": "spend", "op": "gte", "value": "100.00", "window_days": 365},
        {"field": "category", "op": "in", "value": ["Cat 7"]},
    ]
}


def generate(members: int, orders: int, seed: float) -> None:
    from django.db import connection

    from loyalty.models import Account, Order
    from members.models import Member

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        insert_select(
            cursor,
            Member,
            {
                "external_id": "'SM-' || g",
                "email": "'s' || g || '@example.com'",
                "first_name": "''",
                "last_name": "''",
                "phone": "''",
                "birth_date": "date '1960-01-01' + mod(g, 15000)::int",
                "marketing_consent": "mod(g, 3) = 0",
                "status": "'active'",
                "enrolled_at": "now() - interval '800 days'",
                "referral_code": "'S' || lpad(g::text, 10, '0')",
                "created_at": "now()",
                "updated_at": "now()",
            },
            "generate_series(1, %s) g",
            [members],
        )
        insert_select(
            cursor, Account, {"member": "m.id", "updated_at": "now()"}, "members_member m"
        )
        cursor.execute("SELECT min(id) FROM members_member")
        first = cursor.fetchone()[0]
        insert_select(
            cursor,
            Order,
            {
                "order_id": "'SO-' || g",
                "member": f"{first} + floor(power(random(), 2) * {members})::bigint",
                "placed_at": "now() - random() * interval '730 days'",
                "currency": "'GBP'",
                "total": "a.amount",
                "eligible_amount": "a.amount",
                "refunded_total": "a.refunded",
                "refunded_amount": "a.refunded",
                "items": "CASE WHEN mod(g, 5) = 0 THEN jsonb_build_array(jsonb_build_object("
                "'sku', 'SKU-' || mod(g / 5, 2000), 'category', 'Cat ' || mod(g / 5, 40), "
                "'quantity', 1, 'unit_price', a.amount::text)) ELSE '[]'::jsonb END",
                "channel": "'web'",
                "points_base": "floor(a.amount)::int",
                "tier_code": "''",
                "fingerprint": "md5(g::text)",
                "source": "'import'",
                "created_at": "now()",
            },
            """(SELECT g, x.amount,
                       CASE WHEN random() < 0.05 THEN round(x.amount * 0.3, 2) ELSE 0 END
                         AS refunded
                FROM generate_series(1, %s) g,
                     LATERAL (SELECT round((5 + random() * 120)::numeric, 2) AS amount,
                                     g AS dep) x) a""",
            [orders],
        )
        cursor.execute("ANALYZE")


def floor_run() -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT member_id, count(*), max(placed_at), "
            "sum(eligible_amount - refunded_amount) FROM loyalty_order GROUP BY member_id) t"
        )
        cursor.fetchone()
    return time.perf_counter() - started


def refresh_run() -> tuple[float, object]:
    from segments.services.stats import stats_refresh

    started = time.perf_counter()
    report = stats_refresh()
    return time.perf_counter() - started, report


def catalogue(count: int) -> None:
    from decimal import Decimal

    from members.actors import Actor
    from rewards.services.catalogue import reward_create

    for n in range(count):
        reward_create(
            code=f"SR-{n}",
            name=f"Reward {n}",
            kind="fixed_discount",
            points_cost=100 + 50 * n,
            value=Decimal("5.00"),
            category=f"Cat {n % 40}",
            actor=Actor.system("bench"),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=float, default=0.42)
    durability_add_argument(parser)
    args = parser.parse_args()
    setup()
    import os

    label = durability_check(os.environ["DATABASE_URL"], allow_not_durable=args.not_durable)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    generate(args.members, args.orders, args.seed)
    built = time.perf_counter() - started
    print(f"built {args.members:,} members / {args.orders:,} orders in {built:.0f} s ({label})")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(cursor.fetchone()[0])

    floors, refreshes = [], []
    for n in range(args.rounds):
        floors.append(floor_run())
        seconds, report = refresh_run()
        refreshes.append(seconds)
        print(
            f"round {n + 1}: floor {floors[-1]:.2f} s, refresh {seconds:.2f} s "
            f"({report.members:,} rows rewritten, {report.products:,} products, "
            f"{report.group_changes:,} group changes)",
            flush=True,
        )
    print(
        f"refresh: cold {refreshes[0]:.2f} s; typical night median "
        f"{statistics.median(refreshes[1:] or refreshes):.2f} s; floor median "
        f"{statistics.median(floors):.2f} s"
    )

    from segments.conditions import conditions_validate
    from segments.selectors.segments import conditions_members

    tree = conditions_validate(SEGMENT)
    counts = []
    for _ in range(5):
        started = time.perf_counter()
        found = conditions_members(tree).count()
        counts.append(time.perf_counter() - started)
    print(f"3-condition segment count: {found:,} members, median {statistics.median(counts):.3f} s")

    from members.models import Member
    from rewards.suggestions import member_suggestions

    catalogue(50)
    # Orders go to members by power(random(), 2): the first member has the most (about
    # orders / sqrt(members)); the one in the middle is typical (a handful).
    members = Member.objects.order_by("pk")
    for label, member in (("typical", members[args.members // 2]), ("busiest", members[0])):
        times = []
        for _ in range(20):
            started = time.perf_counter()
            member_suggestions(member=member, now=dt.datetime.now(dt.UTC))
            times.append(time.perf_counter() - started)
        orders = member.orders.count()
        print(
            f"suggestions for one {label} member ({orders:,} orders): "
            f"median {statistics.median(times) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
