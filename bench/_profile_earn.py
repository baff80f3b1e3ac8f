"""In-process profile of `POST /api/v1/orders` (not a benchmark: `make bench` skips `bench/_*.py`).

    scripts/with-postgres.sh .venv/bin/python bench/_profile_earn.py [--program demo|plain]
        [--orders 400] [--members 2000] [--profile] [--queries] [--one-member]

Loads the benchmark's data (`bench/_earn_programs.py`: members, their order history, the demo
program unless `--program plain`), then sends orders through the whole Django stack in this
process (the WSGI handler with the production settings, the API key, the serializers), and
prints: the statements of one earn (`--queries`), the CPU of this process and of its PostgreSQL
backend per earn, and with `--profile` cProfile's top functions by cumulative and own time.
Used to find what an earn spends its time on; the figures of record come from `bench/api_earn.py`.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def pg_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", default="demo", choices=["demo", "plain"])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--history", type=int, default=24000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--queries", action="store_true")
    parser.add_argument("--one-member", action="store_true")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    import django

    django.setup()
    from _earn_programs import demo_program_configure, history_create, members_create
    from django.db import connection
    from django.test import Client

    key, one = members_create(args.members)
    history_create(args.history)
    if args.program == "demo":
        print(demo_program_configure())
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    rng = random.Random(7)
    n = 0

    def earn():
        nonlocal n
        n += 1
        member = one if args.one_member else f"BM-{rng.randrange(args.members):05d}"
        placed = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=rng.randint(1, 600))
        body = {
            "order_id": f"P-{n}",
            "member": member,
            "placed_at": placed.isoformat().replace("+00:00", "Z"),
            "currency": "GBP",
            "total": "80.00",
            "channel": "web",
            "items": [
                {"sku": "A", "category": "shoes", "quantity": 1, "unit_price": "30.00"},
                {"sku": "B", "category": "books", "quantity": 2, "unit_price": "25.00"},
            ],
        }
        r = client.post(
            "/api/v1/orders", data=json.dumps(body), content_type="application/json", **headers
        )
        assert r.status_code == 201, (r.status_code, r.content)
        return r

    for _ in range(30):
        earn()
    if args.queries:
        import traceback

        seen = []

        def wrapper(execute, sql, params, many, context):
            here = [
                f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                for f in traceback.extract_stack()[:-1]
                if "/work/" in f.filename and ".venv" not in f.filename
            ]
            seen.append((sql, here[-3:]))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(wrapper):
            r = earn()
        print(f"--- one earn: {len(seen)} statements; answer {r.json()}")
        for sql, where in seen:
            print(f"  {' < '.join(reversed(where))}\n      {str(sql)[:200]}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    cpu0, pg0, t0 = time.process_time(), pg_cpu(backend), time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(args.orders):
        earn()
    if profiler:
        profiler.disable()
    cpu, pg, wall = time.process_time() - cpu0, pg_cpu(backend) - pg0, time.perf_counter() - t0
    print(
        f"{args.program}: {args.orders} earns, per earn: Django CPU {cpu / args.orders * 1000:.2f} "
        f"ms, PostgreSQL CPU {pg / args.orders * 1000:.2f} ms, wall {wall / args.orders * 1000:.2f}"
        f" ms (load {os.getloadavg()[0]:.1f}{', profiled' if profiler else ''})"
    )
    if profiler:
        profiler.dump_stats("/tmp/speed-earn.prof")
        for sort in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(args.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
