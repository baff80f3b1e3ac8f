"""Storefront API under load: earning points on orders, against the stack's own ceiling.

One command (a private PostgreSQL cluster is created and thrown away):

    scripts/with-postgres.sh .venv/bin/python bench/api_earn.py

What it does:
1. Migrates the database, enrols 10,000 members (bulk insert of plain members, their ledger
   accounts opened through `loyalty.services.ledger.accounts_lock`) and creates an API key.
2. Starts gunicorn with 4 sync workers on 127.0.0.1 with the production settings (DEBUG off,
   persistent connections); only the TLS redirect is off, since there is no TLS proxy in front.
3. Loads it at concurrency 32 from separate processes (threads with keep-alive `http.client`
   connections; sync workers close each connection, so clients reconnect as a real client
   would), 2 s of warm-up, then 20 s measured, for each scenario:
   - `ping`: `GET /api/v1/ping`, an authenticated no-op: the ceiling of this stack here;
   - `earn_spread`: `POST /api/v1/orders`, new orders spread over the 10,000 members;
   - `earn_one_member`: `POST /api/v1/orders`, every order on the same member (all serialised
     on that member's account lock).
4. Reports req/s, p50, p99, errors, the ratio to the ceiling and where the CPU went (server
   workers, PostgreSQL, the load generator), then runs `manage.py audit_ledger`.

Options: `--duration S`, `--concurrency N`, `--members N`, `--scenarios ping,earn_spread`,
`--load-processes N`, `--items N` (order lines per order, default 2), `--json FILE`, `--app
MODULE:APP` (another WSGI app, for experiments).
Figures and the exact command are recorded in docs/benchmarks.md ("Storefront API: earning").
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OK_STATUSES = {200, 201}


# --- the server side -------------------------------------------------------------------------


def server_env() -> dict:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench: run me through scripts/with-postgres.sh (DATABASE_URL must be PostgreSQL)")
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    return env


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=check, capture_output=True, text=True
    )


def prepare_data(env: dict, members: int) -> tuple[str, str]:
    """Members, their accounts and an API key. Returns (raw key, the one member's external_id)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction
    from rest_framework_api_key.models import APIKey

    from loyalty.services.ledger import accounts_lock
    from members.models import Member
    from members.services import referral_code_generate

    codes: set[str] = set()
    while len(codes) < members:
        codes.add(referral_code_generate())
    now = dt.datetime.now(dt.UTC)
    # Seed data only: plain active members, as an import would load them (no campaigns exist).
    Member.objects.bulk_create(
        [
            Member(
                external_id=f"BM-{i:05d}",
                email=f"bench{i}@example.com",
                first_name="Bench",
                referral_code=code,
                enrolled_at=now,
            )
            for i, code in enumerate(sorted(codes))
        ],
        batch_size=2000,
    )
    ids = list(Member.objects.values_list("pk", flat=True))
    for start in range(0, len(ids), 2000):
        with transaction.atomic():
            accounts_lock(member_ids=ids[start : start + 2000])
    _, raw_key = APIKey.objects.create_key(name="bench")
    connection.close()
    return raw_key, "BM-00000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(env: dict, port: int, workers: int, app: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            GUNICORN,
            app,
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    sys.exit("bench: gunicorn did not come up")


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def postgres_pids() -> list[int]:
    """The processes of OUR PostgreSQL cluster (others may run on this machine)."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity").fetchall()
    pids = {pid for (pid,) in rows}
    for pid in list(pids):  # the postmaster: the parent of any backend
        try:
            pids.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]))
        except OSError:
            continue
    return sorted(pids)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


# --- the load generator (separate processes; no Django here) ----------------------------------


def order_body(rng: random.Random, order_id: str, member: str, items: int) -> bytes:
    placed = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=rng.randint(1, 600))
    lines = [
        {
            "sku": f"SKU-{rng.randint(1, 5000)}",
            "category": rng.choice(["shoes", "bags", "books"]),
            "quantity": rng.randint(1, 3),
            "unit_price": f"{rng.randint(100, 9999) / 100:.2f}",
        }
        for _ in range(items)
    ]
    total = sum(int(line["quantity"]) * float(line["unit_price"]) for line in lines) or 25.0
    body = {
        "order_id": order_id,
        "member": member,
        "placed_at": placed.isoformat().replace("+00:00", "Z"),
        "currency": "GBP",
        "total": f"{total:.2f}",
        "channel": "web",
    }
    if lines:
        body["items"] = lines
    return json.dumps(body).encode()


def load_process(spec: dict, queue) -> None:
    """Run `spec["threads"]` client threads until `spec["end"]`; put the results on `queue`."""
    start_cpu = time.process_time()
    results = {"latencies": [], "errors": 0, "statuses": {}, "done": 0}
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(f"{spec['seed']}-{index}")
        headers = {"Authorization": f"Api-Key {spec['key']}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
        latencies, errors, statuses, n = [], 0, {}, 0
        while True:
            t0 = time.time()
            if t0 >= spec["end"]:
                break
            n += 1
            if spec["scenario"] == "ping":
                method, path, body = "GET", "/api/v1/ping", None
            else:
                member = (
                    spec["one_member"]
                    if spec["scenario"] == "earn_one_member"
                    else f"BM-{rng.randrange(spec['members']):05d}"
                )
                order_id = f"{spec['scenario']}-{spec['proc']}-{index}-{n}"
                method, path = "POST", "/api/v1/orders"
                body = order_body(rng, order_id, member, spec["items"])
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
                status = 0
            elapsed = time.time() - t0
            if t0 >= spec["measure_from"]:
                if status in OK_STATUSES:
                    latencies.append(elapsed)
                else:
                    errors += 1
                    statuses[status] = statuses.get(status, 0) + 1
        conn.close()
        with lock:
            results["latencies"].extend(latencies)
            results["errors"] += errors
            for s, c in statuses.items():
                results["statuses"][s] = results["statuses"].get(s, 0) + c

    threads = [threading.Thread(target=client, args=(i,)) for i in range(spec["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results["cpu"] = time.process_time() - start_cpu
    queue.put(results)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def run_scenario(name: str, args, *, port: int, key: str, one_member: str, server_pid: int):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    per_proc = [args.concurrency // args.load_processes] * args.load_processes
    for i in range(args.concurrency % args.load_processes):
        per_proc[i] += 1
    begin = time.time() + 1.0  # time for the processes to start
    measure_from = begin + args.warmup
    end = measure_from + args.duration
    procs = []
    for i, threads in enumerate(per_proc):
        spec = {
            "scenario": name,
            "port": port,
            "key": key,
            "threads": threads,
            "proc": i,
            "seed": f"{name}-{i}",
            "members": args.members,
            "one_member": one_member,
            "items": args.items,
            "measure_from": measure_from,
            "end": end,
        }
        p = ctx.Process(target=load_process, args=(spec, queue))
        p.start()
        procs.append(p)
    time.sleep(max(0.0, measure_from - time.time()))
    workers = children(server_pid)
    pg = postgres_pids()
    cpu_server0, cpu_pg0, busy0 = cpu_seconds(workers), cpu_seconds(pg), machine_busy_seconds()
    time.sleep(max(0.0, end - time.time()))
    cpu_server, cpu_pg = cpu_seconds(workers) - cpu_server0, cpu_seconds(pg) - cpu_pg0
    busy = machine_busy_seconds() - busy0
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for part in parts for x in part["latencies"])
    statuses: dict = {}
    for part in parts:
        for s, c in part["statuses"].items():
            statuses[s] = statuses.get(s, 0) + c
    return {
        "scenario": name,
        "requests": len(latencies),
        "rps": len(latencies) / args.duration,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": sum(part["errors"] for part in parts),
        "error_statuses": statuses,
        # CPU seconds per second of the measured window, i.e. cores in use (2 on this machine).
        "cores_server": cpu_server / args.duration,
        "cores_postgres": cpu_pg / args.duration,
        # The load generator's CPU includes its warm-up; scaled to the measured window.
        "cores_loadgen": sum(part["cpu"] for part in parts) / (args.duration + args.warmup),
        # The whole machine (this benchmark and anything else running), in cores.
        "cores_machine": busy / args.duration,
        # Server + PostgreSQL CPU per request: what a request costs, however busy the machine.
        "cpu_ms_per_request": (cpu_server + cpu_pg) / max(len(latencies), 1) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--load-processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--scenarios", default="ping,earn_spread,earn_one_member")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--app",
        default="config.wsgi:application",
        help="the WSGI app gunicorn serves (for experiments: a wrapper module on PYTHONPATH)",
    )
    args = parser.parse_args()

    env = server_env()
    print("bench: migrating", flush=True)
    manage(env, "migrate", "--noinput")
    print(f"bench: enrolling {args.members:,} members", flush=True)
    key, one_member = prepare_data(env, args.members)
    port = free_port()
    server = start_gunicorn(env, port, args.workers, args.app)
    results = []
    try:
        for name in args.scenarios.split(","):
            print(
                f"bench: {name} at concurrency {args.concurrency}, {args.duration:g} s", flush=True
            )
            results.append(
                run_scenario(
                    name, args, port=port, key=key, one_member=one_member, server_pid=server.pid
                )
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    ceiling = next((r["rps"] for r in results if r["scenario"] == "ping"), None)
    print()
    print(
        "| scenario | req/s | p50 ms | p99 ms | errors | vs ceiling "
        "| cores: server / pg / load / machine | CPU ms per request (server + pg) |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for r in results:
        ratio = f"{r['rps'] / ceiling:.0%}" if ceiling else "n/a"
        r["ratio"] = r["rps"] / ceiling if ceiling else None
        print(
            f"| {r['scenario']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['errors']}{' ' + str(r['error_statuses']) if r['errors'] else ''} | {ratio} | "
            f"{r['cores_server']:.2f} / {r['cores_postgres']:.2f} / {r['cores_loadgen']:.2f} / "
            f"{r['cores_machine']:.2f} | "
            f"{r['cpu_ms_per_request']:.2f} |"
        )
    audit = manage(env, "audit_ledger", check=False)
    print()
    print(f"audit_ledger: exit {audit.returncode}")
    print((audit.stdout + audit.stderr).strip()[-2000:])
    if args.json:
        Path(args.json).write_text(
            json.dumps({"results": results, "audit_exit": audit.returncode}, indent=2)
        )
    return 0 if audit.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
