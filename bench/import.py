"""Historical orders import, end to end: orders/s and the importing process's peak memory.

One command each (PostgreSQL: a private cluster is created and thrown away; SQLite: a fresh
database file in a temporary folder):

    PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/import.py --orders 1000000
    .venv/bin/python bench/import.py --orders 100000            # SQLite

What it does:
1. Migrates a fresh database and creates the demo tier ladder (`loyalty.demo.demo_tiers_ensure`),
   so that the tier evaluation at the end of the import is real (`--no-tiers` leaves it out).
2. Writes a seeded canonical `orders` CSV of N orders over N/10 customers, over two years, 20%
   with an eligible total, 5% refunded (`loyalty.importing.synthetic`; cached in var/bench/).
3. Runs `manage.py import_orders FILE -v 2` in a child process, alone, and measures its wall time
   and its peak resident memory (`ru_maxrss` from `wait4`, i.e. of that process only).
4. Prints orders/s (orders created / wall time of the whole command, start-up included), the
   peak, the import's own phases, and checks the ledger (`audit_ledger`, `--no-audit` to skip).
5. On PostgreSQL, measures the import's **floor in the same run** (`bench/_import_floor.py`):
   the rows the import left, `COPY`ed out and loaded back into an empty copy of the schema in one
   transaction, with every index and foreign key live (the chunked import's floor) or inside
   the import's own `ledger_exclusive()` (`--exclusive`'s floor: bare `COPY`, then the index
   and foreign-key builds); prints the floor's orders/s and the import's share of it
   (`--no-floor` to skip).

The file has a shop export's variety (offsets, naive local times, amounts without their zero
cents, float noise, accented and Chinese names: `orders_csv_write(variety=True)`), not the
parser's best case (`--best-case` writes that one, for comparison).

Options: `--orders N` (default 100000), `--seed S`, `--chunk-size N`, `--no-tiers`,
`--exclusive` (the import's `--exclusive`: one transaction, the ledger locked, its indexes and
foreign keys built once at the end), `--split N --workers W` (PostgreSQL: the import split by
customer into N jobs, `import_orders --split N`, run by W `manage.py jobs_worker` processes; the
peak memory is then the waiting command's, not the workers'), `--no-audit`, `--no-floor`,
`--best-case`, `--admin-rows N` (also time the admin path on an N-row file through the
admin's views with the test client).
Figures and commands: docs/benchmarks.md, "Historical import".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
MANAGE = [PYTHON, str(ROOT / "manage.py")]


def environment(tmp: Path) -> dict:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    return env


def django_setup(env: dict) -> None:
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def loadavg() -> str:
    """The 1-minute load average (other engineers' work on a shared machine skews the figures)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def run_measured(command: list[str], env: dict) -> tuple[float, int, str, int, float]:
    """(wall seconds, peak RSS in MiB, stdout, exit status, CPU seconds) of one child process.

    The CPU seconds (user + system, of that process only) are less disturbed than the wall time
    by other work on a shared machine; on PostgreSQL they leave out the server's share."""
    started = time.monotonic()
    child = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss // 1024, output, os.waitstatus_to_exitcode(status), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--no-tiers", action="store_true")
    parser.add_argument("--exclusive", action="store_true")
    parser.add_argument("--no-audit", action="store_true")
    parser.add_argument("--admin-rows", type=int, default=0)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--best-case", action="store_true")
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    durability_add_argument(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp = Path(tmp)
        env = environment(tmp)
        engine = "PostgreSQL" if env["DATABASE_URL"].startswith("postgres") else "SQLite"
        if engine == "PostgreSQL":
            durability_check(env["DATABASE_URL"], allow_not_durable=args.not_durable)
        subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
        django_setup(env)
        from django.db import connection
        from django.utils import timezone

        from loyalty.importing.synthetic import orders_csv_write

        if not args.no_tiers:
            from loyalty.demo import demo_tiers_ensure

            demo_tiers_ensure()
        cache = ROOT / "var" / "bench"
        cache.mkdir(parents=True, exist_ok=True)
        end = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        kind = "best" if args.best_case else "varied"
        path = cache / f"orders-{args.orders}-{args.seed}-{kind}-{end:%Y%m%d}.csv"
        if not path.exists():
            started = time.monotonic()
            orders_csv_write(
                path, orders=args.orders, seed=args.seed, end=end, variety=not args.best_case
            )
            print(
                f"wrote {path.name} ({path.stat().st_size / 2**20:.1f} MiB) "
                f"in {time.monotonic() - started:.1f}s"
            )
        version = (
            connection.cursor().connection.info.server_version
            if engine == "PostgreSQL"
            else __import__("sqlite3").sqlite_version
        )
        connection.close()
        floor = engine == "PostgreSQL" and not args.no_floor
        if floor:
            from _import_floor import floor_database_create

            floor_url = floor_database_create(env["DATABASE_URL"])

        command = [
            *MANAGE,
            "import_orders",
            str(path),
            "--no-progress",
            "-v",
            "2",
            "--chunk-size",
            str(args.chunk_size),
            *(["--exclusive"] if args.exclusive else []),
        ]
        workers = []
        if args.split > 1:  # N jobs on the imports queue, run by W workers (PostgreSQL)
            command = [*MANAGE, "import_orders", str(path), "--no-progress", "--split"]
            command.append(str(args.split))
            workers = workers_start(env, tmp, args.workers) if engine == "PostgreSQL" else []
        load = loadavg()
        try:
            wall, peak, output, status, cpu = run_measured(command, env)
        finally:
            workers_stop(workers)
        print(output.rstrip())
        if status != 0:
            print(f"bench: the import exited with {status}")
            return 1
        created = next(
            int(line.split()[-1].replace(",", ""))
            for line in output.splitlines()
            if line.strip().startswith("orders created")
        )
        print()
        print(
            f"engine: {engine} {version}; orders: {args.orders:,}; tiers: "
            f"{'off' if args.no_tiers else 'demo ladder'}; "
            f"{'exclusive' if args.exclusive else 'chunked commits'}"
            f"{f'; split in {args.split} jobs, {len(workers)} worker(s)' if args.split > 1 else ''}"
            "; file: "
            f"{'best case (--best-case)' if args.best_case else 'a shop export varied'}"
        )
        print(
            f"wall: {wall:.1f}s (whole command, Python start-up included); "
            f"{created / wall:,.0f} orders/s; peak RSS of the importing process: {peak} MiB"
        )
        print(
            f"CPU of the importing process: {cpu:.1f}s; load average before the run: {load}, "
            f"after: {loadavg()}"
        )

        if floor:
            floor_report(env["DATABASE_URL"], floor_url, tmp, created / wall, args.exclusive)

        if args.admin_rows:
            admin_bench(args.admin_rows, env, tmp)

        if not args.no_audit:
            started = time.monotonic()
            audit = subprocess.run(
                [*MANAGE, "audit_ledger"], env=env, cwd=ROOT, capture_output=True, text=True
            )
            print(
                f"audit_ledger ({time.monotonic() - started:.0f}s): "
                f"{audit.stdout.strip().splitlines()[-1] if audit.stdout else audit.stderr}"
            )
            if audit.returncode != 0:
                return 1
    return 0


def workers_start(env: dict, tmp: Path, count: int) -> list[subprocess.Popen]:
    """W job workers serving the imports queue (`manage.py jobs_worker`), logs in `tmp`."""
    return [
        subprocess.Popen(
            [*MANAGE, "jobs_worker", "--name", f"bench-import-{n}", "--queues", "imports"],
            cwd=ROOT,
            env={**env, "JOBS_POLL_SECONDS": "0.5"},
            stdout=(tmp / f"worker-{n}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(count)
    ]


def workers_stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def floor_report(url: str, floor_url: str, tmp: Path, rate: float, exclusive: bool) -> None:
    """Load the import's rows again as bare `COPY`s (the floor) and print the import's share."""
    from _import_floor import floor_measure, floor_rows_dump, floor_tables

    tables = floor_tables(url)
    counts = floor_rows_dump(url, tmp, tables)
    orders = counts.get("loyalty_order", 0)
    seconds = floor_measure(floor_url, tmp, tables, exclusive=exclusive)
    what = (
        "bare COPY then the index and foreign-key builds (ledger_exclusive)"
        if exclusive
        else "COPY into the live schema, every index and foreign key"
    )
    rows = sum(counts.values())
    print(
        f"floor: {what}: {rows:,} rows of {len(tables)} tables in {seconds:.1f}s, "
        f"{orders / seconds:,.0f} orders/s; the import reaches {rate / (orders / seconds):.0%} "
        f"of it (load average after: {loadavg()})"
    )


def admin_bench(rows: int, env: dict, tmp: Path) -> None:
    """The admin path on an N-row file: upload + dry-run preview, then confirm (test client)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from loyalty.importing.synthetic import orders_csv_write

    setup_test_environment()  # the test client's host, and the template context it returns
    path = orders_csv_write(tmp / "admin.csv", orders=rows, seed=99, prefix="ADM")
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)
    url = reverse("admin:loyalty_importrun_import")
    started = time.monotonic()
    with open(path, "rb") as handle:
        preview = client.post(url, {"file": handle, "format": "auto", "profile": ""})
    previewed = time.monotonic()
    token = preview.context["token"]
    confirm = client.post(url, {"token": token})
    done = time.monotonic()
    print(
        f"admin path, {rows:,} rows: preview {previewed - started:.1f}s, confirm "
        f"{done - previewed:.1f}s, {rows / (done - started):,.0f} rows/s end to end "
        f"(HTTP {preview.status_code} then {confirm.status_code})"
    )


if __name__ == "__main__":
    sys.exit(main())
