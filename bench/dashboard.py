"""The program dashboard on a big program: the page for 365 days, the nightly rollup refresh of
one day, and the full rollup rebuild, on PostgreSQL.

One command (a private PostgreSQL cluster is created and thrown away):

    PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/dashboard.py \\
        --members 1000000 --orders 10000000

What it does:
1. Migrates, creates a three-tier ladder, and with set-based SQL (`generate_series`, no Python
   loop, no API) N members (enrolled over three years), their accounts, M orders over the last
   three years (amounts 5.00–125.00, members ordering at different rates), one earn posting and
   one lot per order (available 14 days later, expiring 365 days after that), an expiry posting
   for the lots whose expiry has passed (30% of them spent before by a redeem posting), about
   2 postings per order in all, tier changes for 10% of the members, and M/4 guest orders.
   Then `ANALYZE`.
2. "Full rebuild": `manage.py rollups_rebuild`'s service, every day from the first fact to today.
3. "Nightly refresh": a day's worth of new orders and postings (M / 1,095) is written for
   yesterday, then the daily step (`rollups_daily_step`: the touched days, today's liability
   snapshot) is timed; three rounds, each with a fresh day of rows.
4. "Dashboard": the page through Django's test client as a superuser, in alternating rounds
   A B A B …: A the last 365 days compared with the year before, B the last 7 days (the floor: the
   same page with few days); median of each, the ratio, and the page's query count.

Targets (#20): the page for 365 days ≤ 500 ms with a bounded query count; the nightly refresh of
one day ≤ 10 s; the full rebuild ≤ 10 min, at 1,000,000 members / 10,000,000 orders / about
20,000,000 postings. Options: `--members N`, `--orders N`, `--rounds N`, `--seed S`,
`--not-durable`. Figures: docs/benchmarks.md ("Dashboard").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check  # noqa: E402
from tiers import insert_select, setup  # noqa: E402

DAYS = 1095  # three years of history


def _members(cursor, members: int) -> int:
    from loyalty.models import Account
    from members.models import Member

    insert_select(
        cursor,
        Member,
        {
            "external_id": "'DM-' || g",
            "email": "'d' || g || '@example.com'",
            "first_name": "''",
            "last_name": "''",
            "phone": "''",
            "status": "'active'",
            "enrolled_at": f"now() - (g::float / {members}) * interval '{DAYS} days'",
            "referral_code": "'D' || lpad(g::text, 10, '0')",
            "created_at": "now()",
            "updated_at": "now()",
        },
        "generate_series(1, %s) g",
        [members],
    )
    insert_select(cursor, Account, {"member": "m.id", "updated_at": "now()"}, "members_member m")
    cursor.execute("SELECT min(id) FROM members_member")
    return cursor.fetchone()[0]


def _orders(cursor, first: int, members: int, orders: int, *, prefix: str, when: str) -> None:
    """Orders placed at `when` (an SQL expression), and their earn postings and lots."""
    from loyalty.models import Order

    insert_select(
        cursor,
        Order,
        {
            "order_id": f"'{prefix}' || g",
            "member": f"{first} + floor(power(random(), 2) * {members})::bigint",
            "placed_at": when,
            "currency": "'GBP'",
            "total": "a.amount",
            "eligible_amount": "a.amount",
            "items": "'[]'::jsonb",
            "channel": "'web'",
            "points_base": "floor(a.amount)::int",
            "tier_code": "''",
            "fingerprint": "md5(g::text)",
            "source": "'import'",
            "created_at": "now()",
        },
        "(SELECT g, round((5 + random() * 120)::numeric, 2) AS amount "
        " FROM generate_series(1, %s) g) a",
        [orders],
    )
    cursor.execute(
        f"""INSERT INTO loyalty_posting (member_id, kind, points, created_at, effective_at,
                available_at, expires_at, order_id, source_type, source_id, campaign_code,
                reward_code, idempotency_key, reason, description, actor_kind, actor_label)
            SELECT o.member_id, 'earn', o.points_base, now(), o.placed_at,
                   o.placed_at + interval '14 days', o.placed_at + interval '379 days', o.id,
                   'order', o.order_id, '', '', 'order:' || o.order_id || ':earn', '', '',
                   'system', 'bench'
            FROM loyalty_order o
            WHERE o.order_id LIKE '{prefix}%%' AND o.points_base > 0"""
    )
    cursor.execute(
        f"""INSERT INTO loyalty_lot (posting_id, member_id, points, remaining, available_at,
                expires_at, matured)
            SELECT p.id, p.member_id, p.points, p.points, p.available_at, p.expires_at,
                   p.available_at <= now()
            FROM loyalty_posting p
            WHERE p.kind = 'earn' AND p.source_id LIKE '{prefix}%%'"""
    )


def _expire_and_redeem(cursor) -> None:
    """Lots past expiry: 30% spent before (a redeem posting), the rest expired (an expire
    posting dated at the expiry); lots' remaining and the accounts follow."""
    cursor.execute(
        """INSERT INTO loyalty_posting (member_id, kind, points, created_at, effective_at,
                source_type, source_id, campaign_code, reward_code, idempotency_key, reason,
                description, actor_kind, actor_label)
            SELECT l.member_id, CASE WHEN l.r < 0.3 THEN 'redeem' ELSE 'expire' END,
                   -l.points, now(),
                   CASE WHEN l.r < 0.3 THEN l.expires_at - interval '30 days' ELSE l.expires_at END,
                   'lot', l.posting_id::text, '', '', 'bench-end:' || l.posting_id, '', '',
                   'system', 'bench'
            FROM (SELECT *, random() AS r FROM loyalty_lot WHERE expires_at <= now()) l"""
    )
    cursor.execute("UPDATE loyalty_lot SET remaining = 0, matured = true WHERE expires_at <= now()")
    cursor.execute(
        """UPDATE loyalty_account a SET available = s.available, pending = s.pending
            FROM (SELECT member_id,
                         coalesce(sum(remaining) FILTER (WHERE matured), 0) AS available,
                         coalesce(sum(remaining) FILTER (WHERE NOT matured), 0) AS pending
                  FROM loyalty_lot GROUP BY member_id) s
            WHERE s.member_id = a.member_id"""
    )


def _tiers_and_guests(cursor, first: int, members: int, guests: int) -> None:
    cursor.execute("SELECT id FROM loyalty_tier ORDER BY rank")
    ladder = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        f"""INSERT INTO loyalty_tierchange (member_id, from_tier_id, to_tier_id, kind, at,
                note, created_at, actor_kind, actor_label)
            SELECT m.id, {ladder[0]}, {ladder[1]}, 'upgrade',
                   m.enrolled_at + random() * (now() - m.enrolled_at), '', now(), 'system', 'b'
            FROM members_member m WHERE random() < 0.1"""
    )
    cursor.execute(
        f"""INSERT INTO loyalty_guestorder (order_id, guest_key, placed_at, currency, total,
                exchange_rate, eligible_amount, items, channel, fingerprint, source, created_at)
            SELECT 'DG-' || g, 'guest-' || floor(power(random(), 2) * {max(guests // 3, 1)}),
                   now() - random() * interval '{DAYS} days', 'GBP', x.amount, 1, x.amount,
                   '[]'::jsonb, 'web', md5(g::text), 'api', now()
            FROM generate_series(1, %s) g,
                 LATERAL (SELECT round((5 + random() * 120)::numeric, 2) AS amount, g AS d) x""",
        [guests],
    )


def generate(members: int, orders: int, seed: float) -> dict:
    from django.db import connection

    from loyalty.services.tier_config import tier_save
    from members.actors import Actor

    actor = Actor.system("bench")
    for code, rank, threshold, multiplier in (
        ("member", 0, "0", "1"),
        ("silver", 1, "250", "1.25"),
    ):
        tier_save(
            actor=actor,
            code=code,
            name=code.title(),
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(multiplier),
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        first = _members(cursor, members)
        _orders(
            cursor,
            first,
            members,
            orders,
            prefix="DO-",
            when=f"now() - random() * interval '{DAYS} days'",
        )
        _expire_and_redeem(cursor)
        _tiers_and_guests(cursor, first, members, orders // 4)
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM loyalty_posting")
        postings = cursor.fetchone()[0]
    return {"first": first, "postings": postings}


def timed(label: str, func):
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    print(f"{label:<40} {elapsed:9.2f} s   ({result})", flush=True)
    return elapsed


def nightly_rounds(first: int, members: int, orders: int, rounds: int) -> list[float]:
    from django.db import connection, transaction

    from analytics.services.refresh import rollups_daily_step

    per_day = max(orders // DAYS, 1)
    times = []
    for n in range(rounds):
        with transaction.atomic(), connection.cursor() as cursor:
            _orders(
                cursor,
                first,
                members,
                per_day,
                prefix=f"DN{n}-",
                when="date_trunc('day', now()) - interval '1 day' + random() * interval '1 day'",
            )
        times.append(
            timed(
                f"nightly refresh, round {n + 1} (+{per_day} orders)",
                lambda: rollups_daily_step(as_of=None, cutoff=None, actor=None),
            )
        )
    return times


def page_rounds(rounds: int) -> tuple[list[float], list[float], int]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = User.objects.create_superuser("bench", "bench@example.com", "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    year = {"days": "365", "compare": "year"}
    client.get("/admin/dashboard/", year)  # warm up: templates, settings row, session
    long_times, short_times = [], []
    for _ in range(rounds):
        for params, into in ((year, long_times), ({"days": "7"}, short_times)):
            started = time.perf_counter()
            response = client.get("/admin/dashboard/", params)
            into.append(time.perf_counter() - started)
            assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/dashboard/", year)
    return long_times, short_times, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=float, default=0.2)
    durability_add_argument(parser)
    args = parser.parse_args()
    setup()
    label = durability_check(os.environ["DATABASE_URL"], allow_not_durable=args.not_durable)
    from django.core.management import call_command

    from analytics.services.refresh import rollups_rebuild

    call_command("migrate", verbosity=0)
    print(f"bench: {os.cpu_count()} CPUs, shared machine; {label}", flush=True)
    started = time.perf_counter()
    made = generate(args.members, args.orders, args.seed)
    print(
        f"generated {args.members:,} members, {args.orders:,} orders, {made['postings']:,} "
        f"postings, {args.orders // 4:,} guest orders in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    rebuild = timed("full rebuild", lambda: f"{rollups_rebuild()} days")
    nightly = nightly_rounds(made["first"], args.members, args.orders, 3)
    long_times, short_times, queries = page_rounds(args.rounds)
    long_ms, short_ms = statistics.median(long_times) * 1000, statistics.median(short_times) * 1000
    print(f"full rebuild: {rebuild:.1f} s (target ≤ 600 s)")
    print(f"nightly refresh: median {statistics.median(nightly):.2f} s (target ≤ 10 s)")
    print(
        f"dashboard 365 days + comparison: median {long_ms:.0f} ms (target ≤ 500 ms), "
        f"{queries} queries; 7 days: median {short_ms:.0f} ms; ratio {long_ms / short_ms:.2f}"
    )


if __name__ == "__main__":
    main()
