"""Import fixtures: files written to a temporary folder, imports run through the pipeline.

The ledger audit of `tests/loyalty/conftest.py` (autouse) runs after every test here too.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from loyalty.importing.pipeline import import_orders
from members.actors import Actor

ORDERS_HEADER = "order_id,customer_id,email,placed_at,total,currency"


def days_ago(days: float) -> str:
    """A placed_at `days` ago, in UTC ISO form (what a storefront export writes)."""
    moment = timezone.now() - dt.timedelta(days=days)
    return moment.replace(microsecond=0).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@pytest.fixture
def csv_file(tmp_path):
    """`csv_file("a,b\\n1,2\\n")` or `csv_file(b"...")` -> the path of a new file."""
    counter = iter(range(1, 10_000))

    def _write(content, name=None):
        path = tmp_path / (name or f"orders-{next(counter)}.csv")
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return _write


@pytest.fixture
def run_import(db):
    """Run the import as the pipeline does for the command; returns the `ImportResult`."""

    def _run(path, **options):
        options.setdefault("actor", Actor.system("tests"))
        return import_orders(path=path, **options)

    return _run
