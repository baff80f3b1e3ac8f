"""The demo data's order history: the UCI sample through the import, once."""

from __future__ import annotations

from loyalty.demo import demo_tiers_ensure
from loyalty.importing.demo import demo_import_ensure
from loyalty.models import ImportRun, Lot, Order, TierChange


class Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def test_the_demo_history_is_imported_once_with_points_available_and_pending(db):
    demo_tiers_ensure()
    out = Out()

    first = demo_import_ensure(out=out)
    again = demo_import_ensure(out=out)

    assert (first.status, first.orders_created, first.members_created) == ("succeeded", 401, 303)
    assert again is None
    assert Order.objects.count() == 401
    assert ImportRun.objects.get().via == "demo"
    assert set(Lot.objects.values_list("matured", flat=True)) == {True, False}
    assert TierChange.objects.filter(kind="import").exists()
    assert out.lines[0].startswith(
        "Order history (UCI Online Retail sample, CC BY 4.0): succeeded; 401 orders, 303 members"
    )
    assert out.lines[1] == "Order history (UCI Online Retail sample): already imported."
