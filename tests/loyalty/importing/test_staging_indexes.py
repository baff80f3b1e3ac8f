"""The staging tables' indexes, suspended while a statement rewrites most staged rows."""

from __future__ import annotations

from django.db import connection

from loyalty.importing import staging


def _indexes(table: str) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY 1", [table]
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_temp_master WHERE type = 'index' AND tbl_name = %s "
                "ORDER BY 1",
                [table],
            )
        return [name for (name,) in cursor.fetchall()]


def test_indexes_are_dropped_for_the_statement_and_built_again_after(db):
    staging.tables_create()
    try:
        staging.tables_index()
        assert _indexes("imp_orders") == ["imp_orders_0", "imp_orders_1"]

        with staging.indexes_suspended("imp_orders"):
            assert _indexes("imp_orders") == []

        assert _indexes("imp_orders") == ["imp_orders_0", "imp_orders_1"]
        assert _indexes("imp_refunds") == [f"imp_refunds_{n}" for n in range(4)]
    finally:
        staging.tables_drop()
