"""What every benchmark checks first: the PostgreSQL it measures is durable.

Figures are taken with fsync, synchronous_commit and full_page_writes on, as a production server
runs (`PG_DURABLE=1 scripts/with-postgres.sh …`; `make bench` sets it). A benchmark given a
cluster with any of them off stops, unless it was run with `--not-durable`: then its figures are
a comparison, and the line it prints (and `durability_label`) says so. Not a benchmark itself
(`make bench` skips `bench/_*.py`).
"""

from __future__ import annotations

import argparse
import sys

SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def durability_add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--not-durable",
        action="store_true",
        help="accept a cluster with fsync / synchronous_commit / full_page_writes off "
        "(figures labelled as a comparison, not the benchmark's figures)",
    )


def durability_read(database_url: str) -> dict[str, str]:
    """The server's three durability settings, e.g. {"fsync": "on", …}."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}


def durability_label(settings: dict[str, str]) -> str:
    off = [name for name in SETTINGS if settings.get(name) != "on"]
    return "durable" if not off else f"NOT DURABLE ({', '.join(off)} off): comparison only"


def durability_check(database_url: str, *, allow_not_durable: bool) -> str:
    """Print and return the cluster's durability label; exit if it is not durable and that was
    not asked for."""
    settings = durability_read(database_url)
    label = durability_label(settings)
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    print(f"bench: PostgreSQL {shown}: {label}", flush=True)
    if label != "durable" and not allow_not_durable:
        sys.exit(
            "bench: this cluster is not durable; run me through "
            "`PG_DURABLE=1 scripts/with-postgres.sh …` (or pass --not-durable for a labelled "
            "comparison)"
        )
    return label
