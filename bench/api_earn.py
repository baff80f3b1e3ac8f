"""Storefront API under load: earning points on orders, against the stack's own ceiling.

One command (a private, durable PostgreSQL cluster is created and thrown away):

    PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/api_earn.py

What it does:
1. Migrates the database, enrols 10,000 members (bulk insert of plain members, their ledger
   accounts opened through `loyalty.services.ledger.accounts_lock`), gives them an order history
   (120,000 orders over two years, no points) and creates an API key; then copies that database
   for the second program and configures the first as the demo program (`bench/_earn_programs.py`):
   - `demo`: the demo tier ladder and campaigns, a multiplier campaign live today with no budget
     and one with a budget, the members spread over the tiers by the daily evaluation;
   - `plain`: nothing configured (no tier, no campaign), as migrations leave it;
   - `nocampaign` (only when asked for): a copy of `demo` with every multiplier campaign
     switched off, to set the cost of live campaigns apart (`--programs demo,nocampaign`).
2. Starts one gunicorn per program (4 sync workers each, 127.0.0.1, the production settings,
   persistent database connections; only the TLS redirect is off: no TLS proxy in front).
3. Rounds (default 3). In each, for every program and scenario, a `ping` run (`GET
   /api/v1/ping`, an authenticated no-op: the ceiling of this stack) then the earn run, each
   2 s of warm-up and 15 s measured at concurrency 32 from separate processes (threads with
   keep-alive `http.client` connections; sync workers close each connection, so clients
   reconnect as a real client would). The scenarios: `earn_spread` (`POST /api/v1/orders`, new
   orders spread over the 10,000 members) and `earn_one_member` (every order on one member,
   serialised on its account lock). The order of the pairs rotates from round to round, so no
   scenario always runs last (when autovacuum tends to start).
4. Reports each run, then per scenario the medians over the rounds: req/s, the ratio to the
   ping run just before it, p50, p99, CPU per request; the errors of all rounds. Then
   `manage.py audit_ledger` on every database and `audit_campaign_budgets` on `demo` (the script
   exits 1 if any is not clean) and the budgeted campaign's points awarded (never above its
   budget).

The cluster must be durable (fsync, synchronous_commit, full_page_writes on); `--not-durable`
accepts one that is not, for a labelled comparison. Options: `--rounds N`, `--duration S`,
`--concurrency N`, `--members N`, `--history N`, `--programs demo,plain[,nocampaign]`, `--scenarios
earn_spread,earn_one_member`, `--load-processes N`, `--items N` (order lines per order, default
2), `--json FILE`, `--app MODULE:APP` (another WSGI app, for experiments).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check  # noqa: E402
from _earn_report import report  # noqa: E402

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


def database_url_for(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


def prepare_programs(env: dict, args) -> tuple[str, str, dict[str, str]]:
    """Migrates, enrols the members and their history, copies the database for `plain`, then
    configures `demo`. Returns (raw key, the one member's external_id, program -> DATABASE_URL).
    """
    import psycopg

    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import django

    django.setup()
    from _earn_programs import demo_program_configure, history_create, members_create

    print(f"bench: enrolling {args.members:,} members", flush=True)
    key, one_member = members_create(args.members)
    print(f"bench: {args.history:,} history orders", flush=True)
    history_create(args.history)
    url = env["DATABASE_URL"]
    name = url.partition("?")[0].rsplit("/", 1)[1]
    urls = {"demo": url, "plain": database_url_for(url, f"{name}_plain")}
    if "plain" in args.programs:
        # A copy needs the source database to itself (bench/webhook_delivery.py runs only `demo`
        # with a worker connected).
        with psycopg.connect(database_url_for(url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}_plain"')
            conn.execute(f'CREATE DATABASE "{name}_plain" TEMPLATE "{name}"')
    if "demo" in args.programs:
        print("bench: configuring the demo program", flush=True)
        for what, value in demo_program_configure().items():
            print(f"bench:   {what}: {value}", flush=True)
    if "nocampaign" in args.programs:
        urls["nocampaign"] = database_url_for(url, f"{name}_nocampaign")
        with psycopg.connect(database_url_for(url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}_nocampaign"')
            conn.execute(f'CREATE DATABASE "{name}_nocampaign" TEMPLATE "{name}"')
        # Bench setup, not the program's writer: the same as staff switching each one off.
        with psycopg.connect(urls["nocampaign"], autocommit=True) as conn:
            off = conn.execute(
                "UPDATE campaigns_campaign SET is_active = false "
                "WHERE kind = 'multiplier' AND is_active"
            ).rowcount
        print(f"bench: nocampaign: {off} multiplier campaigns switched off", flush=True)
    return key, one_member, urls


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    env: dict, port: int, workers: int, app: str = "config.wsgi:application"
) -> subprocess.Popen:
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
    deadline = time.monotonic() + 180  # a busy machine starts 4 workers slowly
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


def postgres_pids(url: str) -> list[int]:
    """The processes of OUR PostgreSQL cluster (others may run on this machine)."""
    import psycopg

    with psycopg.connect(url) as conn:
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
                order_id = f"{spec['tag']}-{spec['scenario']}-{spec['proc']}-{index}-{n}"
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


def run_scenario(
    name: str,
    args,
    *,
    port: int,
    key: str,
    one_member: str,
    server_pid: int,
    url: str,
    tag: str = "r1",
):
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
            "seed": f"{tag}-{name}-{i}",
            "tag": tag,
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
    pg = postgres_pids(url)
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


def run_rounds(args, servers: dict, *, key: str, one_member: str) -> list[dict]:
    """Every round: for each (program, earn scenario) pair, in an order rotated per round, a
    ping run then the earn run on that program's server."""
    pairs = [(p, s) for p in args.programs for s in args.scenarios]
    results = []
    for round_no in range(1, args.rounds + 1):
        shift = (round_no - 1) % len(pairs)
        for program, scenario in pairs[shift:] + pairs[:shift]:
            port, pid, url = servers[program]
            pair = []
            for name in ("ping", scenario):
                print(
                    f"bench: round {round_no}: {program} {name} at concurrency "
                    f"{args.concurrency}, {args.duration:g} s (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                r = run_scenario(
                    name,
                    args,
                    port=port,
                    key=key,
                    one_member=one_member,
                    server_pid=pid,
                    url=url,
                    tag=f"r{round_no}{program[0]}",
                )
                r.update(round=round_no, program=program)
                pair.append(r)
            pair[1]["ceiling_rps"] = pair[0]["rps"]
            pair[1]["ratio"] = pair[1]["rps"] / pair[0]["rps"] if pair[0]["rps"] else None
            results.extend(pair)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--load-processes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=120_000)
    parser.add_argument("--items", type=int, default=2)
    parser.add_argument("--programs", default="demo,plain")
    parser.add_argument("--scenarios", default="earn_spread,earn_one_member")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--app",
        default="config.wsgi:application",
        help="the WSGI app gunicorn serves (for experiments: a wrapper module on PYTHONPATH)",
    )
    durability_add_argument(parser)
    args = parser.parse_args()
    args.programs = [p for p in args.programs.split(",") if p]
    args.scenarios = [s for s in args.scenarios.split(",") if s and s != "ping"]
    if (
        set(args.programs) - {"demo", "plain", "nocampaign"}
        or ("nocampaign" in args.programs and "demo" not in args.programs)
        or not args.programs
        or not args.scenarios
    ):
        parser.error(
            "--programs: demo, plain, nocampaign (needs demo); --scenarios: earn_spread, "
            "earn_one_member"
        )

    env = server_env()
    durability = durability_check(env["DATABASE_URL"], allow_not_durable=args.not_durable)
    print(f"bench: migrating (load average {os.getloadavg()[0]:.2f})", flush=True)
    manage(env, "migrate", "--noinput")
    key, one_member, urls = prepare_programs(env, args)
    servers, procs = {}, []
    try:
        for program in args.programs:
            program_env = {**env, "DATABASE_URL": urls[program]}
            port = free_port()
            proc = start_gunicorn(program_env, port, args.workers, args.app)
            procs.append(proc)
            servers[program] = (port, proc.pid, urls[program])
        results = run_rounds(args, servers, key=key, one_member=one_member)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    medians = report(results, args)
    print()
    print(f"PostgreSQL: {durability}; load average now {os.getloadavg()[0]:.2f}")
    audits = {}
    for program in args.programs:
        audit = manage({**env, "DATABASE_URL": urls[program]}, "audit_ledger", check=False)
        audits[program] = audit.returncode
        print(f"audit_ledger ({program}): exit {audit.returncode}")
        print((audit.stdout + audit.stderr).strip()[-1000:])
    if "demo" in args.programs:
        from _earn_programs import BUDGET, budget_used

        budgets = manage(
            {**env, "DATABASE_URL": urls["demo"]}, "audit_campaign_budgets", check=False
        )
        audits["campaign budgets"] = budgets.returncode
        print(f"audit_campaign_budgets (demo): exit {budgets.returncode}")
        print((budgets.stdout + budgets.stderr).strip()[-1000:])

        used = budget_used()
        print(f"bench-budget: {used:,} of {BUDGET:,} points awarded")
        if used > BUDGET:
            audits["budget"] = 1
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "durability": durability,
                    "results": results,
                    "medians": medians,
                    "audit_exit": audits,
                },
                indent=2,
            )
        )
    return 0 if not any(audits.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
