"""Demo data: the UCI Online Retail sample, imported through the historical-orders import.

`demo_import_ensure()` imports `samples/online_retail_2010-12.csv` (real December 2010 orders of a
UK gift shop; CC BY 4.0, see samples/README.md) with the built-in `online-retail` profile, so the
admin opens on real customers, orders, refunds, points and tiers. It is idempotent: once the
sample's orders are in, it does nothing.

The sample's dates are moved forward by a whole number of days so that its last order was placed
`DEMO_LAST_ORDER_DAYS_AGO` days ago: the first days' points are then available and the last days'
still pending (14-day return window), and the spend counts towards tiers. Amounts, customers,
products and times of day are unchanged. (Imported with its real 2010 dates, every point would
long have expired; that is what `import_orders` on the original file gives.)
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

from django.utils import timezone

from loyalty.importing.pipeline import ImportResult, import_orders
from loyalty.models import Order
from members.actors import Actor

SAMPLE = Path(__file__).resolve().parent / "samples" / "online_retail_2010-12.csv"
SAMPLE_FIRST_ORDER = "536365"  # present once the sample has been imported
DEMO_LAST_ORDER_DAYS_AGO = 11


def _shifted_copy(source: Path, target: Path, *, today: dt.date) -> None:
    """The sample with every InvoiceDate moved by the same number of days."""
    with open(source, encoding="utf-8", newline="") as handle:
        last = max(dt.datetime.fromisoformat(row["InvoiceDate"]) for row in csv.DictReader(handle))
    shift = (today - dt.timedelta(days=DEMO_LAST_ORDER_DAYS_AGO)) - last.date()
    with (
        open(source, encoding="utf-8", newline="") as handle,
        open(target, "w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.reader(handle)
        writer = csv.writer(out, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        at = header.index("InvoiceDate")
        for row in reader:
            moved = dt.datetime.fromisoformat(row[at]) + shift
            row[at] = moved.strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow(row)


def demo_import_ensure(*, out=None, actor: Actor | None = None) -> ImportResult | None:
    """Import the demo order history unless it is already in; returns the import's result."""
    if Order.objects.filter(order_id=SAMPLE_FIRST_ORDER).exists():
        if out is not None:
            out.write("Order history (UCI Online Retail sample): already imported.")
        return None
    actor = actor or Actor.system("load_demo")
    with tempfile.TemporaryDirectory(prefix="demo-import-") as folder:
        path = Path(folder) / SAMPLE.name
        _shifted_copy(SAMPLE, path, today=timezone.localdate())
        result = import_orders(
            path=path,
            actor=actor,
            fmt="lines",
            profile_name="online-retail",
            file_name=f"{SAMPLE.name} (demo: ends {DEMO_LAST_ORDER_DAYS_AGO} days ago)",
            via="demo",
        )
    if out is not None:
        out.write(
            f"Order history (UCI Online Retail sample, CC BY 4.0): {result.status}; "
            f"{result.orders_created:,} orders, {result.members_created:,} members, "
            f"{result.refunds_created:,} refunds, {result.points_posted:,} points"
            + (f" ({result.message})" if result.message and not result.ok else "")
            + "."
        )
    return result


def demo_sample_conflicts(order_ids: list[str | None]) -> int:
    """How many of these conflicting orders the demo loaded from its copy of the sample (with
    moved dates): when a preview of the shared sample conflicts because of the demo's own data,
    the admin says so instead of leaving staff to puzzle over "different content"."""
    from loyalty.models import ImportRun

    wanted = {o for o in order_ids if o}
    if not wanted or not ImportRun.objects.filter(via="demo").exists():
        return 0
    return Order.objects.filter(order_id__in=wanted, source=Order.Source.IMPORT).count()
