"""Seeded synthetic order histories in the canonical `orders` format, for benchmarks and tests.

`orders_csv_write(path, orders=N)` writes N orders over N/10 customers (ids and emails
optionally prefixed, so that several files can go into one database), spread over the two years
before `end`, in date order as a shop exports them: 20% with an eligible total below the total
(shipping and tax), 5% partly or fully refunded, some customers without an email. The same seed,
size and end give the same file, byte for byte; it is written as it is generated (flat memory).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from django.utils import timezone

FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Tim")
LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson")
HEADER = (
    "order_id",
    "customer_id",
    "email",
    "placed_at",
    "total",
    "currency",
    "eligible_total",
    "refunded_total",
    "first_name",
    "last_name",
)


def orders_csv_write(
    path: str | Path,
    *,
    orders: int,
    seed: int = 42,
    end: dt.datetime | None = None,
    days: int = 730,
    currency: str = "GBP",
    prefix: str = "",
) -> Path:
    path = Path(path)
    rng = random.Random(seed)
    end = (end or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    customers = max(orders // 10, 1)
    span = days * 86_400
    step = span / max(orders, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(HEADER)
        for n in range(orders):
            # Evenly spread in time with jitter, oldest first, always in the past.
            offset = span - int(n * step) - rng.randrange(max(int(step), 1)) - 60
            placed = end - dt.timedelta(seconds=max(offset, 60))
            customer = rng.randrange(customers)
            total = rng.randrange(500, 50_000)
            eligible = total - rng.randrange(1, total // 4 + 2) if rng.random() < 0.2 else None
            refundable = eligible if eligible is not None else total
            refunded = rng.randrange(1, refundable + 1) if rng.random() < 0.05 else None
            email = f"customer{customer}@example.com" if customer % 7 else ""
            out.writerow(
                (
                    f"{prefix}ORD{n:09d}",
                    f"{prefix}C{customer:08d}",
                    f"{prefix.lower()}{email}" if email else "",
                    placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    _money(total),
                    currency,
                    _money(eligible) if eligible is not None else "",
                    _money(refunded) if refunded is not None else "",
                    FIRST[customer % len(FIRST)],
                    LAST[customer % len(LAST)],
                )
            )
    return path


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
