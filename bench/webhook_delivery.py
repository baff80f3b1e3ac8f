"""Webhooks: events delivered per second by one worker, and the delivery lag under earn load.

One command (a private PostgreSQL cluster is created and thrown away):

    scripts/with-postgres.sh .venv/bin/python bench/webhook_delivery.py

What it does:
1. Migrates the database (production settings; private addresses allowed for the local
   receiver) and creates one endpoint (every event type) pointing at a receiver in this process
   (a threaded HTTP server on 127.0.0.1 answering 204).
2. Throughput: writes `--events` events (points.adjusted, in transactions of 500) with no worker
   running, then starts one worker (`manage.py jobs_worker`, concurrency
   `JOBS_WORKER_CONCURRENCY`, default 4) and times until the receiver has every event id:
   dispatch (fan-out, one job per delivery), signing and the HTTP POSTs included.
3. Lag: with that worker still running, runs `bench/api_earn.py --scenarios earn_spread` (its own
   gunicorn, members and load) against the same database for `--earn-seconds`, while a writer
   here records one points.adjusted event every `--interval` seconds; lag is the receiver's
   arrival time minus the event's `occurred_at`. Printed twice: over every event that occurred
   while the earn benchmark ran (its set-up's burst of events included), and over the **earn
   phase only** (from the line announcing its earn run to its next line: the earn path's own
   points.earned events and this writer's), with the backlog of older events still queued
   when the earn phase began. Prints p50, p99 and max; the target (#15) is p99 under 2 s at the
   earn benchmark's rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("api_earn", ROOT / "bench" / "api_earn.py")
api_earn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_earn)
PYTHON, manage, percentile, server_env = (
    api_earn.PYTHON,
    api_earn.manage,
    api_earn.percentile,
    api_earn.server_env,
)


def setup(env: dict):
    os.environ.update(env)
    import django

    django.setup()


def write_events(count: int, start: int) -> None:
    from django.db import transaction

    from events.services import NewEvent, events_record

    for first in range(start, start + count, 500):
        with transaction.atomic():
            events_record(
                events=[
                    NewEvent(
                        type="points.adjusted",
                        member_id=n,
                        member_external_id=f"BW-{n}",
                        payload={"points": 1, "adjustment_id": n},
                    )
                    for n in range(first, min(first + 500, start + count))
                ]
            )


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "manage.py", "jobs_worker", "--name", "bench-webhooks"],
        cwd=ROOT,
        env={**env, "JOBS_POLL_SECONDS": "0.5"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def received_ids(receiver) -> set[str]:
    with receiver.lock:
        return {r.headers["webhook-id"] for r in receiver.received}


def lag_seconds(receiver, since: float, until: float) -> list[float]:
    lags = []
    with receiver.lock:
        received = list(receiver.received)
    first_arrival: dict[str, tuple[float, float]] = {}
    for r in received:
        body = json.loads(r.body)
        occurred = dt.datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).timestamp()
        if since <= occurred <= until and r.headers["webhook-id"] not in first_arrival:
            first_arrival[r.headers["webhook-id"]] = (occurred, r.at)
    lags = sorted(arrival - occurred for occurred, arrival in first_arrival.values())
    return lags


def backlog(receiver, at: float) -> int:
    """Events that occurred before `at` and first arrived after it (queued at `at`)."""
    with receiver.lock:
        received = list(receiver.received)
    first: dict[str, tuple[float, float]] = {}
    for r in received:
        stamp = json.loads(r.body)["timestamp"].replace("Z", "+00:00")
        occurred = dt.datetime.fromisoformat(stamp).timestamp()
        if r.headers["webhook-id"] not in first:
            first[r.headers["webhook-id"]] = (occurred, r.at)
    return sum(1 for occurred, arrival in first.values() if occurred < at < arrival)


def lag_window(receiver, since: float, until: float) -> tuple[float, float, int]:
    """(since, until, the most events that occurred in any one second of it)."""
    from collections import Counter

    with receiver.lock:
        received = list(receiver.received)
    per_second: Counter = Counter()
    seen = set()
    for r in received:
        stamp = json.loads(r.body)["timestamp"].replace("Z", "+00:00")
        occurred = dt.datetime.fromisoformat(stamp).timestamp()
        if since <= occurred <= until and r.headers["webhook-id"] not in seen:
            seen.add(r.headers["webhook-id"])
            per_second[int(occurred)] += 1
    return since, until, max(per_second.values(), default=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--earn-seconds", type=float, default=15.0)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--history", type=int, default=20_000)
    args = parser.parse_args()

    env = {**server_env(), "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES": "true"}
    manage(env, "migrate", "--noinput")
    setup(env)
    from members.actors import Actor
    from tests.webhooks.receiver import Receiver
    from webhooks import services

    receiver = Receiver()
    services.endpoint_create(url=receiver.url(), actor=Actor.system("bench"))
    write_events(args.events, 1)
    log = Path("/tmp/bench-webhooks-worker.log")
    load = os.getloadavg()
    started = time.monotonic()
    worker = start_worker(env, log)
    try:
        while len(received_ids(receiver)) < args.events:
            if time.monotonic() - started > 600:
                sys.exit("bench: not every event arrived within 10 minutes")
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        print(
            f"throughput: {args.events} events delivered by 1 worker in {elapsed:.1f} s = "
            f"{args.events / elapsed:.0f} events/s (worker start included; load before "
            f"{load[0]:.1f})"
        )

        stop = threading.Event()

        def writer():
            n = 10_000_000
            while not stop.is_set():
                write_events(1, n)
                n += 1
                time.sleep(args.interval)

        thread = threading.Thread(target=writer, daemon=True)
        since = time.time()
        thread.start()
        earn = subprocess.Popen(
            [
                PYTHON,
                "bench/api_earn.py",
                "--programs",
                "demo",
                "--scenarios",
                "earn_spread",
                "--rounds",
                "1",
                "--duration",
                str(args.earn_seconds),
                "--members",
                str(args.members),
                "--history",
                str(args.history),
            ],
            cwd=ROOT,
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # The earn phase: from the line announcing the earn run (after the set-up and the ping
        # run) to the next line the benchmark prints (its report, once the run has ended).
        lines, earn_from, earn_until = [], None, None
        for line in earn.stdout:
            lines.append(line.rstrip("\n"))
            if earn_from is None and "earn_spread at concurrency" in line:
                earn_from = time.time()
            elif earn_from is not None and earn_until is None:
                earn_until = time.time()
        earn.wait()
        until = time.time()
        stop.set()
        thread.join()
        time.sleep(5)  # the last events' deliveries
        earn_line = [line for line in lines if "earn_spread" in line]
        print("earn bench:", *(earn_line or lines[-8:]), sep="\n  ")
        for label, start, end in (
            ("whole earn-bench window, set-up included", since, until),
            ("earn phase only", earn_from, earn_until),
        ):
            if start is None or end is None:
                print(f"lag ({label}): the earn run was not seen in the benchmark's output")
                continue
            lags = lag_seconds(receiver, start, end)
            window = lag_window(receiver, start, end)
            if not lags:
                print(f"lag ({label}): no event occurred")
                continue
            print(
                f"lag ({label}, {end - start:.1f} s): {len(lags)} events, at most {window[2]} "
                f"in one second; p50 {percentile(lags, 0.5):.3f} s, "
                f"p99 {percentile(lags, 0.99):.3f} s, max {lags[-1]:.3f} s"
            )
        if earn_from is not None:
            print(
                f"backlog when the earn phase began: {backlog(receiver, earn_from)} events that "
                f"occurred before it were still undelivered (load now {os.getloadavg()[0]:.1f})"
            )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=70)
        except subprocess.TimeoutExpired:
            worker.kill()
        receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
