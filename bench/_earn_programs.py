"""The programs `bench/api_earn.py` loads: the data both share, and the demo program on top.

Both programs have the same members, accounts, API key and order history: the demo program's
database is a copy (`CREATE DATABASE … TEMPLATE`) made before it is configured.

- `plain`: the program as migrations leave it (no tier, no campaign).
- `demo`: what `make run` ships and a merchant runs: the demo tier ladder (Member 0, Silver 250
  ×1.25, Gold 500 ×1.5, Platinum 1000 ×2) and the demo campaigns, plus two multiplier campaigns
  live today on every weekday: `bench-today` (×1.5, no budget) and `bench-budget` (×1.25, a
  budget of 50,000,000 points, which the benchmark never exhausts); the members spread over the
  tiers by the daily evaluation, run once on the order history.

The order history: `history_create(orders)` (the bench: 12 per member) over the last 730 days,
5.00–125.00 each, 5% partly refunded (one refund each), members ordering at different rates
(power 1.5 of a uniform draw: a few frequent buyers, many occasional; `BM-00000`, the
one-member scenario's member, is the most frequent, about 0.2% of all orders). They carry no
points (the ledger's audit then holds trivially for them: no posting, zero points); only their
amounts and dates matter here, for the tier decision. Not a benchmark itself (`make bench`
skips `bench/_*.py`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

BUDGET = 50_000_000


def members_create(members: int) -> tuple[str, str]:
    """Members, their accounts and an API key. Returns (raw key, the one member's external_id)."""
    from django.db import connection, transaction
    from rest_framework_api_key.models import APIKey

    from loyalty.services.ledger import accounts_lock
    from members.models import Member
    from members.services import referral_code_generate

    codes: set[str] = set()
    while len(codes) < members:
        codes.add(referral_code_generate())
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    # Seed data only: plain active members, as an import would load them.
    Member.objects.bulk_create(
        [
            Member(
                external_id=f"BM-{i:05d}",
                email=f"bench{i}@example.com",
                first_name="Bench",
                referral_code=code,
                enrolled_at=now,
            )
            for i, code in enumerate(sorted(codes))
        ],
        batch_size=2000,
    )
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        with transaction.atomic():
            accounts_lock(member_ids=ids[start : start + 2000])
    _, raw_key = APIKey.objects.create_key(name="bench")
    connection.close()
    return raw_key, "BM-00000"


def history_create(orders: int, seed: float = 0.42) -> None:
    """The members' past orders (no points), set-based."""
    from django.db import connection

    from loyalty.models import Order, Refund
    from members.models import Member

    fields = {f.column for f in Order._meta.concrete_fields}
    values = {
        "order_id": "'H-' || g",
        "member_id": "m.first + floor(power(random(), 1.5) * m.n)::bigint",
        "placed_at": "now() - random() * interval '730 days'",
        "currency": "'GBP'",
        "total": "a.amount",
        "eligible_total": "NULL",
        "eligible_amount": "a.amount",
        "exchange_rate": "1",
        "refunded_total": "a.refunded",
        "refunded_amount": "a.refunded",
        "items": "'[]'::jsonb",
        "channel": "'web'",
        "points_base": "0",
        "points_tier_bonus": "0",
        "points_campaign": "0",
        "points_reversed": "0",
        "tier_code": "''",
        "fingerprint": "md5(g::text)",
        "source": "'import'",
        "created_at": "now()",
    }
    missing = fields - set(values) - {"id"}
    if missing:
        raise SystemExit(f"bench: no value for the order columns {sorted(missing)}; add them")
    columns = sorted(values)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [seed])
        cursor.execute(
            f"""INSERT INTO {Order._meta.db_table} ({", ".join(columns)})
            SELECT {", ".join(values[c] for c in columns)}
            FROM (SELECT min(id) AS first, count(*) AS n FROM {Member._meta.db_table}) m,
                 (SELECT g, x.amount,
                         CASE WHEN random() < 0.05 THEN round(x.amount * 0.3, 2) ELSE 0 END
                           AS refunded
                  FROM generate_series(1, %s) g,
                       LATERAL (SELECT round((5 + random() * 120)::numeric, 2) AS amount,
                                       g AS dep) x) a""",
            [orders],
        )
        # The partly refunded ones get their refund (what `refunded_total` adds up).
        cursor.execute(
            f"""INSERT INTO {Refund._meta.db_table} (refund_id, order_id, amount, refunded_at,
                    points_reversed, shortfall, fingerprint, created_at)
            SELECT 'HR-' || o.order_id, o.id, o.refunded_total, o.placed_at + interval '3 days',
                   0, 0, md5(o.order_id), now()
            FROM {Order._meta.db_table} o WHERE o.refunded_total > 0"""
        )
        cursor.execute("ANALYZE")
    connection.close()


def demo_program_configure() -> dict:
    """The demo program in the current database; returns what it set up (printed)."""
    from django.db import connection
    from django.utils import timezone

    from campaigns.demo import demo_campaigns_ensure
    from campaigns.models import Campaign
    from campaigns.services.manage import campaign_save
    from loyalty.demo import demo_tiers_ensure
    from loyalty.models import MemberTier
    from loyalty.services.tiers import tier_evaluate_all
    from members.actors import Actor

    actor = Actor.system("bench")
    ladder = demo_tiers_ensure(actor=actor)
    demo_campaigns_ensure()
    start = timezone.now() - dt.timedelta(days=1)
    for code, name, multiplier, budget in (
        ("bench-today", "Bench: ×1.5 today", Decimal("1.50"), None),
        ("bench-budget", "Bench: ×1.25 on a budget", Decimal("1.25"), BUDGET),
    ):
        campaign_save(
            campaign=Campaign(
                code=code,
                name=name,
                kind=Campaign.Kind.MULTIPLIER,
                multiplier=multiplier,
                budget_points=budget,
                starts_at=start,
                ends_at=start + dt.timedelta(days=30),
            ),
            actor=actor,
        )
    # The members spread over the tiers as the daily evaluation leaves them.
    tier_evaluate_all(actor=actor)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    spread = {t.code: MemberTier.objects.filter(tier=t).count() for t in ladder if t.rank > 0}
    live = list(
        Campaign.objects.filter(kind=Campaign.Kind.MULTIPLIER, is_active=True)
        .order_by("code")
        .values_list("code", flat=True)
    )
    connection.close()
    return {"tiers above the entry tier": spread, "multiplier campaigns": live}


def budget_used() -> int | None:
    """Points `bench-budget` has awarded (it must stay within its budget)."""
    from campaigns.models import Campaign
    from campaigns.selectors import campaign_points_awarded

    campaign = Campaign.objects.filter(code="bench-budget").first()
    return None if campaign is None else campaign_points_awarded(campaign=campaign)
