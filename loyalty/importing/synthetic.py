"""Seeded synthetic order histories in the canonical `orders` format, for benchmarks and tests.

`orders_csv_write(path, orders=N)` writes N orders over N/10 customers (ids and emails
optionally prefixed, so that several files can go into one database), spread over the two years
before `end`, in date order as a shop exports them: 20% with an eligible total below the total
(shipping and tax), 5% partly or fully refunded, some customers without an email. The same seed,
size and end give the same file, byte for byte; it is written as it is generated (flat memory).

`variety=True` writes what a real shop export looks like rather than the parser's best case (the
benchmark's default; the values are the same, only their spelling changes, but for a naive time
in the hour a daylight-saving change repeats, which reads as its first occurrence):
- times: a quarter in UTC with `Z`, a quarter with a `+08:00` offset, a quarter with `-05:00`, a
  quarter naive (read in the program's time zone), some of them with a space instead of `T`;
- amounts: whole amounts without decimals (`12`), one decimal where the cents allow (`12.5`),
  leading zeros never, and one amount in 200 as a spreadsheet's binary-float noise
  (`9.949999999999999`, read as 9.95: docs/import.md);
- emails in mixed case and names with accents or in Chinese for some customers.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from django.utils import timezone

from loyalty.importing.values import FLOAT_NOISE_DIGITS

FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "Tim")
LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson")
# `variety=True`: some customers' names as a shop in Europe or China has them.
FIRST_VARIED = ("José", "Zoë", "伟", "芳", "Søren", "Chloé")
LAST_VARIED = ("Muñoz", "Brontë", "王", "李", "Ørsted", "Lefèvre")
OFFSETS = (dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5)))
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
    variety: bool = False,
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
            email = f"{prefix.lower()}{email}" if email else ""
            money = _money
            first, last = FIRST[customer % len(FIRST)], LAST[customer % len(LAST)]
            when = placed.strftime("%Y-%m-%dT%H:%M:%SZ")
            if variety:
                money = _money_varied
                when = _when_varied(placed, n)
                if customer % 5 == 0:
                    email = email.replace("customer", "Customer")
                if customer % 6 == 0:
                    first = FIRST_VARIED[customer // 6 % len(FIRST_VARIED)]
                    last = LAST_VARIED[customer // 6 % len(LAST_VARIED)]
            out.writerow(
                (
                    f"{prefix}ORD{n:09d}",
                    f"{prefix}C{customer:08d}",
                    email,
                    when,
                    money(total),
                    currency,
                    money(eligible) if eligible is not None else "",
                    money(refunded) if refunded is not None else "",
                    first,
                    last,
                )
            )
    return path


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _money_varied(cents: int) -> str:
    """The amount as a shop's export or a spreadsheet spells it (the same value)."""
    if cents % 100 == 0:
        return str(cents // 100)
    if cents % 10 == 0:
        return f"{cents // 100}.{(cents % 100) // 10}"
    if cents % 200 == 1:  # one amount in 200: a spreadsheet's float with its full precision
        noisy = format(cents / 100, ".17g")
        if len(noisy.replace(".", "").lstrip("0")) >= FLOAT_NOISE_DIGITS and "e" not in noisy:
            return noisy
    return _money(cents)


def _when_varied(placed: dt.datetime, n: int) -> str:
    """The same instant with a `Z`, an offset, or naive in the program's time zone."""
    kind = n % 4
    separator = " " if n % 3 == 0 else "T"
    if kind == 3:  # naive: the program's local time
        local = timezone.localtime(placed)
        return local.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    shifted = placed.astimezone(OFFSETS[kind])
    text = shifted.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    if kind == 0:
        return text + "Z"
    offset = shifted.strftime("%z")  # +0800
    return f"{text}{offset[:3]}:{offset[3:]}"
