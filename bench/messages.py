"""Member messages: plan the points-expiring reminders for 1,000,000 members (10% with points
expiring) and send them through Django's locmem backend, on PostgreSQL.

One command (a private PostgreSQL cluster is created and thrown away):

    flock /tmp/bench.lock env PG_DURABLE=1 scripts/with-postgres.sh \
        .venv/bin/python bench/messages.py

What it does:
1. Migrates, then builds the data set-based (`generate_series`, no Python loop, not through the
   API): N members (default 1,000,000; a third with a first name, a tenth in Chinese), and for
   each of R rounds (default 3) one cohort of 10% of the members (a different tenth each round)
   with a 100-point lot (and its posting) expiring on that round's day. `ANALYZE`.
2. Rounds, alternating (A B A B A B), each on its own day (30 days before its cohort's expiry):
   A, the floor: the planner's aggregate query alone, every row fetched (`points_expiring_plan`);
   B, the plan: `messages_daily` for the day (the kinds' queries, the eligibility checks, the log
   rows, the `message.requested` events and the send jobs on the queue, in pages of 2,000 rows).
   Prints each B's time, its ratio to A, the messages planned, and the process's peak memory
   before and after (flat: one page held at a time).
3. Send: the first `--send` (default 20,000) queued messages of each round through
   `messaging.sending.messages_send` in batches of 200 ids (as a worker's job does), with the
   locmem backend (the outbox emptied after each batch); messages/s, median of the rounds.

Target (#18): the plan ≤ 30 s for 1,000,000 members on PostgreSQL, memory flat. Figures and the
exact command: docs/benchmarks.md ("Member messages"). Options: `--members N`, `--rounds R`,
`--send N`, `--seed S`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
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
    # The send jobs go to the queue (measured as part of the plan); the bench sends them itself.
    os.environ["JOBS_RUN_INLINE"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(members: int, rounds: int, today: dt.date, seed: float) -> None:
    from django.db import connection
    from tiers import insert_select  # bench/tiers.py: INSERT ... SELECT over every column

    from loyalty.models import Lot, Posting
    from members.models import Member

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        insert_select(
            cursor,
            Member,
            {
                "external_id": "'MM-' || g",
                "email": "'m' || g || '@example.com'",
                "first_name": "CASE WHEN g %% 3 = 0 THEN 'Ada' ELSE '' END",
                "last_name": "''",
                "phone": "''",
                "status": "'active'",
                "enrolled_at": "now() - interval '400 days'",
                "referral_code": "'M' || lpad(g::text, 10, '0')",
                "locale": "CASE WHEN g %% 10 = 7 THEN 'zh-hans' ELSE '' END",
                "created_at": "now()",
                "updated_at": "now()",
            },
            "generate_series(1, %s) g",
            [members],
        )
        table = Member._meta.db_table
        for r in range(rounds):
            expires = dt.datetime.combine(today + dt.timedelta(days=r + 30), dt.time(12))
            insert_select(
                cursor,
                Posting,
                {
                    "member": "m.id",
                    "kind": "'campaign_bonus'",
                    "points": "100",
                    "created_at": "now() - interval '300 days'",
                    "effective_at": "now() - interval '300 days'",
                    "available_at": "now() - interval '300 days'",
                    "expires_at": "%s",
                    "source_type": "'campaign'",
                    "campaign_code": "'BENCH'",
                    "source_id": "''",
                    "reward_code": "''",
                    "reason": "''",
                    "description": "'bench'",
                    "idempotency_key": f"'bench-{r}-' || m.id",
                    "actor_kind": "'system'",
                    "actor_label": "'system:bench'",
                },
                f"{table} m WHERE m.id %% 10 = {r}",
                [_aware(expires)],
            )
            insert_select(
                cursor,
                Lot,
                {
                    "posting": "p.id",
                    "member": "p.member_id",
                    "points": "100",
                    "remaining": "100",
                    "available_at": "p.available_at",
                    "expires_at": "p.expires_at",
                    "matured": "true",
                },
                f"{Posting._meta.db_table} p WHERE p.idempotency_key LIKE 'bench-{r}-%%'",
            )
        cursor.execute("ANALYZE")


def _aware(moment: dt.datetime) -> dt.datetime:
    from django.utils import timezone

    return timezone.make_aware(moment)


def floor(as_of: dt.date) -> int:
    from messaging.builtin import points_expiring_plan

    rows = 0
    for queryset in points_expiring_plan(as_of=as_of, days=(30, 7)):
        for _ in queryset.iterator(chunk_size=10_000):
            rows += 1
    return rows


def send(as_of: dt.date, limit: int) -> tuple[int, float]:
    from django.core import mail

    from messaging.models import MessageLog, MessageStatus
    from messaging.sending import messages_send

    ids = list(
        MessageLog.objects.filter(
            status=MessageStatus.QUEUED,
            subject_key__startswith=(as_of + dt.timedelta(days=30)).isoformat(),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    mail.outbox = []
    sent, start = 0, time.perf_counter()
    for i in range(0, len(ids), 200):
        sent += messages_send(message_ids=ids[i : i + 200])
        mail.outbox = []
    return sent, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--send", type=int, default=20_000)
    parser.add_argument("--seed", type=float, default=0.18)
    durability_add_argument(parser)
    args = parser.parse_args()
    setup()
    label = durability_check(os.environ["DATABASE_URL"], allow_not_durable=args.not_durable)

    from django.core.management import call_command
    from django.utils import timezone

    from messaging.daily import messages_daily

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    start = time.perf_counter()
    generate(args.members, args.rounds, today, args.seed)
    print(
        f"bench: {args.members:,} members, {args.rounds} cohorts of 10% with points expiring, "
        f"built in {time.perf_counter() - start:.1f} s; {label}",
        flush=True,
    )
    floors, plans, rates = [], [], []
    for r in range(args.rounds):
        as_of = today + dt.timedelta(days=r)
        t0 = time.perf_counter()
        rows = floor(as_of)
        floors.append(time.perf_counter() - t0)
        before = peak_mb()
        t0 = time.perf_counter()
        planned = messages_daily(as_of=as_of)
        plans.append(time.perf_counter() - t0)
        print(
            f"round {r + 1}: A floor {floors[-1]:.2f} s ({rows:,} rows) | B plan "
            f"{plans[-1]:.2f} s ({planned:,} messages, {plans[-1] / floors[-1]:.1f}x the floor)"
            f" | peak memory {before:.0f} -> {peak_mb():.0f} MB",
            flush=True,
        )
        sent, seconds = send(as_of, args.send)
        rates.append(sent / seconds if seconds else 0.0)
        print(f"round {r + 1}: sent {sent:,} in {seconds:.1f} s: {rates[-1]:.0f} messages/s")
    print(
        f"median: plan {statistics.median(plans):.2f} s for {args.members:,} members "
        f"(floor {statistics.median(floors):.2f} s, "
        f"{statistics.median(plans) / statistics.median(floors):.1f}x); "
        f"send {statistics.median(rates):.0f} messages/s (locmem, one process); {label}"
    )


if __name__ == "__main__":
    main()
