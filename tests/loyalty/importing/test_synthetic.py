"""The benchmark's realistic file (`variety=True`) spells the same history another way.

A shop's export is not the parser's best case: offsets, naive local times, a space for the `T`,
amounts without their zero cents, a spreadsheet's float noise, mixed-case emails, accented and
Chinese names. The benchmark imports that file; this test proves it is the same history, so its
figure measures the parser's real work and nothing else changes.
"""

from __future__ import annotations

import csv
import datetime as dt

from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import Order, Posting

# Fixed, in the past (the import refuses future dates); no naive time of this seed's 400 orders
# falls in the hour Europe/London repeats in October (checked by the first assertion).
END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _ledger(prefix: str) -> list[tuple]:
    orders = Order.objects.filter(order_id__startswith=f"{prefix}ORD").order_by("order_id")
    return [
        (
            o.order_id.removeprefix(prefix),
            o.member.external_id.removeprefix(prefix),
            o.placed_at,
            o.total,
            o.eligible_total,
            o.refunded_total,
            sum(p.points for p in Posting.objects.filter(order=o)),
        )
        for o in orders.select_related("member")
    ]


def test_the_varied_file_imports_the_same_history_as_the_plain_one(run_import, tmp_path):
    plain = orders_csv_write(tmp_path / "plain.csv", orders=400, seed=3, end=END, prefix="P")
    varied = orders_csv_write(
        tmp_path / "varied.csv", orders=400, seed=3, end=END, prefix="V", variety=True
    )
    with open(varied, encoding="utf-8") as handle:
        spelled = list(csv.DictReader(handle))

    first = run_import(plain)
    second = run_import(varied)

    assert (first.orders_created, second.orders_created) == (400, 400)
    assert _ledger("V") == _ledger("P")
    # The variety is really there (what the parser must read besides the best case).
    assert {r["placed_at"][-6:] for r in spelled if r["placed_at"][-6] in "+-"} == {
        "+08:00",
        "-05:00",
    }
    assert sum(1 for r in spelled if r["placed_at"].endswith("Z")) == 100
    assert sum(1 for r in spelled if len(r["placed_at"]) == 19) == 100  # naive local times
    assert sum(1 for r in spelled if r["placed_at"][10] == " ") == 134
    assert sum(1 for r in spelled if "." not in r["total"]) == 5
    noisy = sum(
        1
        for column in ("total", "eligible_total", "refunded_total")
        for r in spelled
        if len(r[column]) > 12
    )
    assert (noisy, first.float_amounts, second.float_amounts) == (3, 0, 3)
    assert {r["last_name"] for r in spelled} >= {"王", "Muñoz"}
    assert sum(1 for r in spelled if r["email"].startswith("vCustomer")) == 67
