"""The daily tier evaluation for 100,000 members with 1,000,000 orders, on PostgreSQL.

One command (a private PostgreSQL cluster is created and thrown away):

    PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/tiers.py

What it does:
1. Migrates, creates the demo ladder (Member 0, Silver 250, Gold 500, Platinum 1000) and, with
   set-based SQL (`generate_series`, no Python loop), 100,000 members with their accounts and
   1,000,000 orders over the last two years (amounts 5.00–125.00; members order at different
   rates, so spend spreads over the tiers; 5% of orders partly refunded). Then `ANALYZE`.
2. "Cold start": `tier_evaluate_all` as of 400 days ago on members who have no tier row yet
   (every qualifying member gets one: the heaviest possible run).
3. Spreads the tier states as a live program would have them: each row's hold started at a
   random moment of the last two years (about half have ended), 1% of members carry an override,
   about half of which have lapsed.
4. "Daily run": `tier_evaluate_all` now (the measured figure: downgrades, renewed holds,
   catch-up upgrades and lapsed overrides over all members), then "again": the same run a second
   time, which finds nothing to do (the floor: the aggregate alone), and the next day.
5. The import's path: an evaluation of every tenth member only (`member_ids_sql=`,
   `kind="import"`), a month on (a month of holds has ended).

Target: the daily run in 5 s or less. Options: `--members N`, `--orders N`, `--seed S`. Figures
and the exact command are recorded in docs/benchmarks.md ("Tier evaluation").
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check  # noqa: E402


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench: run me through scripts/with-postgres.sh (DATABASE_URL must be PostgreSQL)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def insert_select(cursor, model, expressions: dict[str, str], source: str, params=()) -> int:
    """INSERT INTO model's table every concrete column: the given SQL expressions, else the
    field's constant default (so a field added later does not break the benchmark)."""
    from django.db.models import NOT_PROVIDED

    columns, values, extra = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key and f.name not in expressions:
            continue
        columns.append(f.column)
        if f.name in expressions:
            values.append(expressions[f.name])
            continue
        if f.db_default is not NOT_PROVIDED:
            columns.pop()  # the database fills it in
            continue
        if f.default is NOT_PROVIDED or callable(f.default):
            if f.null:
                values.append("NULL")
                continue
            raise SystemExit(f"bench: no value for {model.__name__}.{f.name}; add it to the bench")
        values.append("%s")
        extra.append(f.get_db_prep_save(f.default, cursor.db))
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM {source}"
    )
    cursor.execute(sql, [*extra, *params])
    return cursor.rowcount


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
                "external_id": "'B-' || g",
                "email": "'b' || g || '@example.com'",
                "first_name": "''",
                "last_name": "''",
                "phone": "''",
                "status": "'active'",
                "enrolled_at": "now() - interval '800 days'",
                "referral_code": "'R' || lpad(g::text, 10, '0')",
                "created_at": "now()",
                "updated_at": "now()",
            },
            "generate_series(1, %s) g",
            [members],
        )
        insert_select(
            cursor,
            Account,
            {"member": "m.id", "updated_at": "now()"},
            f"{Member._meta.db_table} m",
        )
        cursor.execute(f"SELECT min(id) FROM {Member._meta.db_table}")
        first = cursor.fetchone()[0]
        # Members order at different rates (power 2: a few frequent buyers, many occasional).
        insert_select(
            cursor,
            Order,
            {
                "order_id": "'BO-' || g",
                "member": f"{first} + floor(power(random(), 2) * {members})::bigint",
                "placed_at": "now() - random() * interval '730 days'",
                "currency": "'GBP'",
                "total": "a.amount",
                "eligible_amount": "a.amount",
                "refunded_total": "a.refunded",
                "refunded_amount": "a.refunded",
                "items": "'[]'::jsonb",
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


def spread_states(seed: float) -> dict:
    from django.db import connection

    from loyalty.models import MemberTier, Tier

    gold = Tier.objects.get(code="gold").pk
    table = MemberTier._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        cursor.execute(
            f"UPDATE {table} SET since = q.at, qualified_at = q.at "
            f"FROM (SELECT member_id, now() - random() * interval '730 days' AS at "
            f"      FROM {table}) q WHERE q.member_id = {table}.member_id"
        )
        cursor.execute(
            f"""INSERT INTO {table} (member_id, tier_id, since, qualified_at, override_tier_id,
                    override_until, override_reason, override_by, override_at)
                SELECT m.id, (SELECT id FROM loyalty_tier WHERE rank = 0), now(), now(),
                       NULL, NULL, '', '', NULL
                FROM members_member m
                WHERE random() < 0.01
                  AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.member_id = m.id)"""
        )
        cursor.execute(
            f"""UPDATE {table} SET override_tier_id = %s,
                    override_until = current_date + (30 - floor(random() * 60))::int,
                    override_reason = 'Status match', override_by = 'bench', override_at = now()
                WHERE random() < 0.01 OR since > now() - interval '1 minute'""",
            [gold],
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(
            f"SELECT count(*), count(override_tier_id), "
            f"count(*) FILTER (WHERE override_until < current_date) FROM {table}"
        )
        rows, overrides, lapsing = cursor.fetchone()
    return {"rows": rows, "overrides": overrides, "lapsing": lapsing}


def timed(label: str, func):
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {elapsed:8.2f} s   {result:>9,} changes", flush=True)
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=float, default=0.42)
    durability_add_argument(parser)
    args = parser.parse_args()
    setup()
    durability = durability_check(os.environ["DATABASE_URL"], allow_not_durable=args.not_durable)

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from loyalty.demo import demo_tiers_ensure
    from loyalty.models import MemberTier, TierChange
    from loyalty.services.tiers import tier_evaluate_all

    call_command("migrate", verbosity=0)
    demo_tiers_ensure()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"PostgreSQL {version} ({durability}); {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    started = time.perf_counter()
    generate(args.members, args.orders, args.seed)
    print(
        f"generated {args.members:,} members, {args.orders:,} orders "
        f"in {time.perf_counter() - started:.1f} s"
    )
    now = timezone.now()
    timed(
        "cold start (as of 400 days ago)",
        lambda: tier_evaluate_all(as_of=now - dt.timedelta(days=400)),
    )
    states = spread_states(args.seed)
    print(
        f"tier rows {states['rows']:,}; overrides {states['overrides']:,} "
        f"({states['lapsing']:,} lapsed)"
    )
    before = TierChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    daily, _ = timed("daily run (now)", lambda: tier_evaluate_all(as_of=timezone.now()))
    kinds = {
        kind: TierChange.objects.filter(pk__gt=before, kind=kind).count()
        for kind in ("upgrade", "downgrade", "override_lapsed")
    }
    renewed = MemberTier.objects.filter(qualified_at__gte=now, since__lt=now).count()
    print(f"  history rows {kinds}; holds renewed {renewed:,}")
    print(f"  tier rows now {MemberTier.objects.count():,}")
    timed("again (nothing to do)", lambda: tier_evaluate_all(as_of=timezone.now()))
    tomorrow = timezone.now() + dt.timedelta(days=1)
    timed("the next day (a typical day)", lambda: tier_evaluate_all(as_of=tomorrow))
    # The historical import's path: only the members a file named (here every tenth member),
    # their accounts locked row by row, history entries of kind `import`; a month on, so that
    # a month of holds has ended.
    timed(
        "10% of members, a month on (import)",
        lambda: tier_evaluate_all(
            as_of=timezone.now() + dt.timedelta(days=30),
            kind="import",
            member_ids_sql="SELECT m.id FROM members_member m WHERE m.id % 10 = 0",
        ),
    )
    print(f"load average {os.getloadavg()[0]:.2f} (other work on the machine)")
    verdict = "OK" if daily <= 5.0 else "OVER TARGET"
    print(
        f"daily run {daily:.2f} s for {args.members:,} members / {args.orders:,} orders: "
        f"{verdict} (target 5 s)"
    )


if __name__ == "__main__":
    main()
