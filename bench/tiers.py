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
4. "Daily run, worst case": `tier_evaluate_all(full=True)` now (every member evaluated:
   downgrades, renewed holds, catch-up upgrades and lapsed overrides), then "again": the next
   run, incremental, which finds nothing to do; "again, full": the same run evaluating everyone
   (the floor: the plan's aggregate alone); and the next day (incremental).
5. The import's path: an evaluation of every tenth member only (`member_ids_sql=`,
   `kind="import"`), a month on (a month of holds has ended).
6. "Daily run under earn load" (`bench/_tiers_under_load.py`): gunicorn (4 sync workers,
   production settings) and 8 earn clients posting orders for random members (the clients of
   `bench/api_earn.py`), in rounds A B: A the load alone, B the load while the worst-case daily
   run executes (the tier rows put back to the worst case first). Reports the earn p50 / p99 of
   the requests that overlapped the run, the errors and the run's duration; medians of the
   rounds.

Targets (#14): the worst-case daily run in 2 s or less at 100,000 members / 1,000,000 orders (10 s
at 1,000,000 / 10,000,000); under earn load, earn p99 < 200 ms during the run and 0 errors.
Options: `--members N`, `--orders N`, `--seed S`, `--scenarios daily,under_load`, `--rounds N`,
`--clients N`, `--workers N`, `--alone S`. Figures and the exact command are recorded in
docs/benchmarks.md ("Tier evaluation").
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
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
                # As `bench/api_earn.py` names them (its load clients pick `BM-%05d`).
                "external_id": "'BM-' || CASE WHEN g <= 100000 THEN lpad((g - 1)::text, 5, '0') "
                "ELSE (g - 1)::text END",
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
    parser.add_argument(
        "--scenarios",
        default="daily,under_load",
        help="daily (the timed runs), under_load (the daily run under earn load)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds under load")
    parser.add_argument("--clients", type=int, default=8, help="earn clients under load")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers under load")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--alone", type=float, default=6.0, help="seconds of load alone (A)")
    durability_add_argument(parser)
    args = parser.parse_args()
    args.scenarios = [x for x in args.scenarios.split(",") if x]
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
    snapshot_states()
    # The worst case: every member evaluated (`full`, when the code has it: an incremental run
    # would start from the cold start, 400 days back, which plans nearly everyone anyway).
    full = {"full": True} if "full" in inspect.signature(tier_evaluate_all).parameters else {}
    daily = None
    if "daily" in args.scenarios:
        before = TierChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        daily, _ = timed(
            "daily run, worst case (full)",
            lambda: tier_evaluate_all(as_of=timezone.now(), **full),
        )
        kinds = {
            kind: TierChange.objects.filter(pk__gt=before, kind=kind).count()
            for kind in ("upgrade", "downgrade", "override_lapsed")
        }
        renewed = MemberTier.objects.filter(qualified_at__gte=now, since__lt=now).count()
        print(f"  history rows {kinds}; holds renewed {renewed:,}")
        print(f"  tier rows now {MemberTier.objects.count():,}")
        timed("again (nothing to do)", lambda: tier_evaluate_all(as_of=timezone.now()))
        if full:
            timed(
                "again, full (the aggregate alone)",
                lambda: tier_evaluate_all(as_of=timezone.now(), **full),
            )
        tomorrow = timezone.now() + dt.timedelta(days=1)
        timed("the next day (a typical day)", lambda: tier_evaluate_all(as_of=tomorrow))
        # The historical import's path: only the members a file named (here every tenth
        # member), history entries of kind `import`; a month on, so that a month of holds has
        # ended.
        timed(
            "10% of members, a month on (import)",
            lambda: tier_evaluate_all(
                as_of=timezone.now() + dt.timedelta(days=30),
                kind="import",
                member_ids_sql="SELECT m.id FROM members_member m WHERE m.id % 10 = 0",
            ),
        )
    under_load = None
    if "under_load" in args.scenarios:
        under_load = run_under_load(args, full)
    print(f"load average {os.getloadavg()[0]:.2f} (other work on the machine)")
    if daily is not None:
        verdict = "OK" if daily <= TARGET_SECONDS else "OVER TARGET"
        print(
            f"daily run {daily:.2f} s for {args.members:,} members / {args.orders:,} orders: "
            f"{verdict} (target {TARGET_SECONDS:g} s at 100,000 / 1,000,000)"
        )
    if under_load is not None:
        m = under_load["with the daily run"]
        alone = under_load["alone"]
        verdict = "OK" if m["p99_ms"] < 200 and m["errors"] == 0 else "OVER TARGET"
        print(
            f"under earn load (medians of {args.rounds}): earn p99 {m['p99_ms']:.1f} ms during "
            f"the run (alone {alone['p99_ms']:.1f} ms), {m['errors']} errors, run "
            f"{m['seconds']:.2f} s: {verdict} (target p99 < 200 ms, 0 errors)"
        )


TARGET_SECONDS = 2.0
SNAPSHOT = "bench_membertier_worst_case"


def snapshot_states() -> None:
    """Keep the worst-case tier rows, to put them back before each daily run under load."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}")
        cursor.execute(f"CREATE TABLE {SNAPSHOT} AS SELECT * FROM loyalty_membertier")


def restore_states() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM loyalty_membertier")
        cursor.execute(f"INSERT INTO loyalty_membertier SELECT * FROM {SNAPSHOT}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE loyalty_membertier")


def run_under_load(args, full: dict) -> dict:
    """The "daily run under earn load" scenario (`bench/_tiers_under_load.py`)."""
    from _tiers_under_load import daily_run_under_load, medians
    from api_earn import manage, server_env
    from django.db import connection
    from django.utils import timezone
    from rest_framework_api_key.models import APIKey

    from loyalty.services.tiers import tier_evaluate_all

    _, key = APIKey.objects.create_key(name="bench-tiers")
    manage(server_env(), "createcachetable")  # the production settings' database cache
    print(
        f"daily run under earn load: {args.clients} clients on gunicorn ({args.workers} sync "
        f"workers, production settings), {args.rounds} rounds A (load alone, "
        f"{args.alone:g} s) / B (load + the worst-case daily run)",
        flush=True,
    )

    def run_daily() -> int:
        written = tier_evaluate_all(as_of=timezone.now(), **full)
        connection.close()
        return written

    results = daily_run_under_load(args, key=key, run_daily=run_daily, reset_states=restore_states)
    return medians(results)


if __name__ == "__main__":
    main()
