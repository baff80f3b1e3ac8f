"""A mixed storefront load close to a real shop (#14): enrol, order, refund, redeem, summary.

One command (a private, durable PostgreSQL cluster is created and thrown away):

    flock /tmp/bench.lock env PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/load.py

What it does:
1. Migrates, loads `bench/api_earn.py`'s data (10,000 members with two years of order history)
   and configures the demo program on it (the demo tier ladder, the demo campaigns plus a ×1.5
   and a budgeted ×1.25 multiplier live today, members spread over the tiers:
   `bench/_earn_programs.py`), the demo rewards (`rewards.demo`), and gives the first
   `--funded` members 2,000 points each, available at once (a campaign award per member, the
   service's own path), so that redemptions can succeed.
2. Starts gunicorn (production settings, `--workers` sync workers, persistent connections).
3. A `ping` run (the stack's ceiling, `GET /api/v1/ping`), then the mixed run: `--clients`
   clients (threads in `--load-processes` processes, keep-alive connections) for `--duration`
   seconds after a warm-up, each request drawn with these weights:
   - enrol 10% (`PUT /api/v1/members/{new id}`),
   - order 60% (`POST /api/v1/orders`, as `bench/api_earn.py`, members spread),
   - refund 10% (`POST /api/v1/orders/{id}/refunds`: 30% of an order this client placed; a
     client with none left to refund places an order instead, counted as an order),
   - redeem 10% (`POST /api/v1/members/{id}/redemptions`, a funded member, `FREE_SHIPPING` at
     300 points, with an `Idempotency-Key`),
   - summary 10% (`GET /api/v1/members/{id}`).
4. Reports requests per second against the ping run, p50 / p99 per operation, the errors by
   status, the CPU per request, then runs `manage.py audit_ledger` (exit 1 if not clean) and
   `audit_campaign_budgets`.

Target (#14): p99 < 250 ms for every operation, 0 errors. Options: `--clients`, `--duration`,
`--warmup`, `--workers`, `--members`, `--history`, `--funded`, `--load-processes`, `--json`.
Figures in docs/benchmarks.md ("Mixed load").
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import multiprocessing as mp
import os
import random
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
_spec = importlib.util.spec_from_file_location("api_earn", ROOT / "bench" / "api_earn.py")
api_earn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_earn)
from _durable import durability_add_argument, durability_check  # noqa: E402

OPERATIONS = (("enrol", 10), ("order", 60), ("refund", 10), ("redeem", 10), ("summary", 10))
REWARD = "FREE_SHIPPING"
FUNDED_POINTS = 2000


def prepare(env: dict, args) -> str:
    """The data, the demo program, the rewards and the funded members; returns the API key."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from _earn_programs import demo_program_configure, history_create, members_create
    from django.db import connection, transaction

    from loyalty.services.points import points_award
    from members.actors import Actor
    from members.models import Member
    from rewards.demo import demo_rewards_ensure

    print(f"load: enrolling {args.members:,} members", flush=True)
    key, _ = members_create(args.members)
    print(f"load: {args.history:,} history orders", flush=True)
    history_create(args.history)
    print("load: the demo program and rewards", flush=True)
    for what, value in demo_program_configure().items():
        print(f"load:   {what}: {value}", flush=True)
    demo_rewards_ensure()
    actor = Actor.system("bench")
    members = list(Member.objects.order_by("pk")[: args.funded])
    print(f"load: {len(members):,} members funded with {FUNDED_POINTS} points", flush=True)
    for start in range(0, len(members), 500):
        with transaction.atomic():
            for member in members[start : start + 500]:
                points_award(
                    member=member,
                    points=FUNDED_POINTS,
                    campaign_code="bench-funding",
                    idempotency_key=f"bench-funding:{member.pk}",
                    actor=actor,
                    description="Bench funding",
                )
    connection.close()
    return key


def order_body(rng: random.Random, order_id: str, member: str) -> tuple[bytes, str]:
    body = json.loads(api_earn.order_body(rng, order_id, member, 2))
    return json.dumps(body).encode(), body["total"]


def client_loop(spec: dict, index: int, out: dict, lock: threading.Lock) -> None:
    rng = random.Random(f"{spec['seed']}-{index}")
    base = {"Authorization": f"Api-Key {spec['key']}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
    names = [name for name, _ in OPERATIONS]
    weights = [weight for _, weight in OPERATIONS]
    mine: list[tuple[str, str]] = []  # orders this client placed and has not refunded yet
    results: dict[str, dict] = {}
    n = 0
    while True:
        t0 = time.time()
        if t0 >= spec["end"]:
            break
        n += 1
        tag = f"{spec['proc']}-{index}-{n}"
        op = "ping" if spec["ping"] else rng.choices(names, weights)[0]
        if op == "refund" and not mine:
            op = "order"
        headers = dict(base)
        body = None
        if op == "ping":
            method, path = "GET", "/api/v1/ping"
        elif op == "enrol":
            method, path = "PUT", f"/api/v1/members/LD-{spec['tag']}-{tag}"
            body = json.dumps({"email": f"ld-{spec['tag']}-{tag}@example.com"}).encode()
        elif op == "order":
            order_id = f"LO-{spec['tag']}-{tag}"
            member = f"BM-{rng.randrange(spec['members']):05d}"
            method, path = "POST", "/api/v1/orders"
            body, total = order_body(rng, order_id, member)
        elif op == "refund":
            order_id, total = mine.pop(rng.randrange(len(mine)))
            amount = f"{float(total) * 0.3:.2f}"
            method, path = "POST", f"/api/v1/orders/{order_id}/refunds"
            body = json.dumps({"refund_id": f"LR-{order_id}", "amount": amount}).encode()
        elif op == "redeem":
            member = f"BM-{rng.randrange(spec['funded']):05d}"
            method, path = "POST", f"/api/v1/members/{member}/redemptions"
            body = json.dumps({"reward": REWARD}).encode()
            headers["Idempotency-Key"] = str(uuid.uuid4())
        else:  # summary
            method, path = "GET", f"/api/v1/members/BM-{rng.randrange(spec['members']):05d}"
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
        if op == "order" and status == 201:
            mine.append((order_id, total))
        if t0 >= spec["measure_from"]:
            r = results.setdefault(op, {"latencies": [], "statuses": {}})
            if status in (200, 201, 204):
                r["latencies"].append(elapsed)
            else:
                r["statuses"][status] = r["statuses"].get(status, 0) + 1
    conn.close()
    with lock:
        for op, r in results.items():
            o = out.setdefault(op, {"latencies": [], "statuses": {}})
            o["latencies"].extend(r["latencies"])
            for s, c in r["statuses"].items():
                o["statuses"][s] = o["statuses"].get(s, 0) + c


def load_process(spec: dict, queue) -> None:
    out: dict = {}
    lock = threading.Lock()
    threads = [
        threading.Thread(target=client_loop, args=(spec, i, out, lock))
        for i in range(spec["threads"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(out)


def run(args, *, key: str, port: int, server_pid: int, url: str, ping: bool, tag: str) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    per_proc = [args.clients // args.load_processes] * args.load_processes
    for i in range(args.clients % args.load_processes):
        per_proc[i] += 1
    begin = time.time() + 1.0
    measure_from = begin + args.warmup
    end = measure_from + args.duration
    procs = []
    for i, threads in enumerate(per_proc):
        spec = {
            "ping": ping,
            "port": port,
            "key": key,
            "threads": threads,
            "proc": i,
            "seed": f"{tag}-{i}",
            "tag": tag,
            "members": args.members,
            "funded": args.funded,
            "measure_from": measure_from,
            "end": end,
        }
        p = ctx.Process(target=load_process, args=(spec, queue))
        p.start()
        procs.append(p)
    time.sleep(max(0.0, measure_from - time.time()))
    workers = api_earn.children(server_pid)
    pg = api_earn.postgres_pids(url)
    cpu0 = api_earn.cpu_seconds(workers) + api_earn.cpu_seconds(pg)
    load0 = os.getloadavg()[0]
    time.sleep(max(0.0, end - time.time()))
    cpu = api_earn.cpu_seconds(workers) + api_earn.cpu_seconds(pg) - cpu0
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    ops: dict = {}
    for part in parts:
        for op, r in part.items():
            o = ops.setdefault(op, {"latencies": [], "statuses": {}})
            o["latencies"].extend(r["latencies"])
            for s, c in r["statuses"].items():
                o["statuses"][s] = o["statuses"].get(s, 0) + c
    report = {}
    for op, r in ops.items():
        lat = sorted(r["latencies"])
        report[op] = {
            "ok": len(lat),
            "p50_ms": api_earn.percentile(lat, 0.5) * 1000,
            "p99_ms": api_earn.percentile(lat, 0.99) * 1000,
            "errors": r["statuses"],
        }
    done = sum(o["ok"] for o in report.values())
    return {
        "ops": report,
        "rps": done / args.duration,
        "cpu_ms_per_request": cpu / max(done, 1) * 1000,
        "load": (load0, os.getloadavg()[0]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--ping-duration", type=float, default=15.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--load-processes", type=int, default=4)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=120_000)
    parser.add_argument("--funded", type=int, default=5_000)
    parser.add_argument("--json", help="also write the results to this file")
    durability_add_argument(parser)
    args = parser.parse_args()
    env = api_earn.server_env()
    durability = durability_check(env["DATABASE_URL"], allow_not_durable=args.not_durable)
    print(f"load: migrating (load average {os.getloadavg()[0]:.2f})", flush=True)
    api_earn.manage(env, "migrate", "--noinput")
    key = prepare(env, args)
    port = api_earn.free_port()
    server = api_earn.start_gunicorn(env, port, args.workers)
    try:
        mixed_duration = args.duration
        args.duration = args.ping_duration
        print(f"load: ping, {args.clients} clients (load {os.getloadavg()[0]:.1f})", flush=True)
        ping = run(
            args,
            key=key,
            port=port,
            server_pid=server.pid,
            url=env["DATABASE_URL"],
            ping=True,
            tag="p",
        )
        args.duration = mixed_duration
        print(f"load: mixed, {args.clients} clients, {args.duration:g} s", flush=True)
        mixed = run(
            args,
            key=key,
            port=port,
            server_pid=server.pid,
            url=env["DATABASE_URL"],
            ping=False,
            tag="m",
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print()
    print(f"PostgreSQL: {durability}; {args.workers} sync workers; {args.clients} clients")
    print(
        f"ping: {ping['rps']:.0f} req/s; mixed: {mixed['rps']:.0f} req/s = "
        f"{mixed['rps'] / ping['rps']:.0%} of ping; CPU {mixed['cpu_ms_per_request']:.1f} ms per "
        f"request (server + PostgreSQL); load average {mixed['load'][0]:.1f} -> "
        f"{mixed['load'][1]:.1f}"
    )
    print(f"{'operation':<10} {'ok':>7} {'p50 ms':>8} {'p99 ms':>8}  errors by status")
    for op, _ in OPERATIONS:
        r = mixed["ops"].get(op, {"ok": 0, "p50_ms": float("nan"), "p99_ms": float("nan")})
        print(
            f"{op:<10} {r['ok']:>7} {r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f}  {r.get('errors') or 0}"
        )
    audits = {}
    for command in ("audit_ledger", "audit_campaign_budgets"):
        audit = api_earn.manage(env, command, check=False)
        audits[command] = audit.returncode
        print(f"{command}: exit {audit.returncode}")
        print((audit.stdout + audit.stderr).strip()[-600:])
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"durability": durability, "ping": ping, "mixed": mixed, "audit_exit": audits},
                indent=2,
                default=str,
            )
        )
    return 0 if not any(audits.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
