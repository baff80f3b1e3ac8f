"""The "daily run under earn load" scenario of `bench/tiers.py`: the storefront's earn load
(`POST /api/v1/orders` on gunicorn, as `bench/api_earn.py` runs it) while the worst-case daily
tier evaluation runs. Not a benchmark itself (`make bench` skips `bench/_*.py`).

Rounds alternate A B: A is the earn load alone, B the same load with the daily run started after
a warm-up; the tier rows are put back to the worst case before each B. Reported per round and as
medians: the earn p50 / p99 of the requests that overlapped the run (B) or of the whole measured
window (A), the requests per second, the errors (any status but 200/201, over the whole load) and
the run's duration.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import random
import signal
import statistics
import threading
import time

from api_earn import free_port, order_body, percentile, server_env, start_gunicorn

OK_STATUSES = {200, 201}


def _client_process(spec: dict, stop, queue) -> None:
    """`spec["threads"]` clients posting orders until `stop` is set; puts (start, seconds,
    status) of every request on `queue`."""
    samples, lock = [], threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(f"{spec['seed']}-{index}")
        headers = {"Authorization": f"Api-Key {spec['key']}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
        mine, n = [], 0
        while not stop.is_set():
            n += 1
            member = f"BM-{rng.randrange(spec['members']):05d}"
            body = order_body(rng, f"{spec['tag']}-{spec['proc']}-{index}-{n}", member, 2)
            t0 = time.time()
            try:
                conn.request("POST", "/api/v1/orders", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
                status = 0
            mine.append((t0, time.time() - t0, status))
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(spec["threads"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(samples)


class EarnLoad:
    """The earn load in separate processes (no Django there), from `start()` to `stop()`."""

    def __init__(self, *, port: int, key: str, members: int, clients: int, tag: str) -> None:
        self.ctx = mp.get_context("spawn")
        self.stop_event = self.ctx.Event()
        self.queue = self.ctx.Queue()
        processes = min(2, clients)
        self.specs = [
            {
                "port": port,
                "key": key,
                "members": members,
                "threads": clients // processes + (1 if i < clients % processes else 0),
                "proc": i,
                "seed": f"{tag}-{i}",
                "tag": tag,
            }
            for i in range(processes)
        ]
        self.procs = []

    def start(self) -> None:
        for spec in self.specs:
            p = self.ctx.Process(target=_client_process, args=(spec, self.stop_event, self.queue))
            p.start()
            self.procs.append(p)

    def stop(self) -> list[tuple[float, float, int]]:
        self.stop_event.set()
        samples = [s for _ in self.procs for s in self.queue.get()]
        for p in self.procs:
            p.join()
        return samples


def _summary(samples, *, start: float, end: float, overlap: bool) -> dict:
    """Latencies of the requests in [start, end] (started in it, or with `overlap` any request
    running at some point in it); errors over all samples."""
    if overlap:
        chosen = [s for s in samples if s[0] <= end and s[0] + s[1] >= start]
    else:
        chosen = [s for s in samples if start <= s[0] <= end]
    ok = sorted(s[1] for s in chosen if s[2] in OK_STATUSES)
    errors: dict[int, int] = {}
    for s in samples:
        if s[2] not in OK_STATUSES:
            errors[s[2]] = errors.get(s[2], 0) + 1
    return {
        "requests": len(ok),
        "rps": len(ok) / max(end - start, 1e-9),
        "p50_ms": percentile(ok, 0.50) * 1000,
        "p99_ms": percentile(ok, 0.99) * 1000,
        "max_ms": (ok[-1] * 1000) if ok else float("nan"),
        "errors": sum(errors.values()),
        "error_statuses": errors,
    }


def daily_run_under_load(args, *, key: str, run_daily, reset_states) -> list[dict]:
    """The A B rounds on one gunicorn (production settings); `run_daily()` runs the worst-case
    daily run and returns its changes, `reset_states()` puts the tier rows back first."""
    env = server_env()
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    results = []
    try:
        for round_no in range(1, args.rounds + 1):
            reset_states()
            for label in ("alone", "with the daily run"):
                load = EarnLoad(
                    port=port,
                    key=key,
                    members=args.members,
                    clients=args.clients,
                    tag=f"L{round_no}{label[0]}",
                )
                load.start()
                time.sleep(args.warmup + 1.0)  # the processes start, then the warm-up
                start = time.time()
                changes = None
                if label == "alone":
                    time.sleep(args.alone)
                else:
                    changes = run_daily()
                end = time.time()
                time.sleep(0.5)
                samples = load.stop()
                row = _summary(samples, start=start, end=end, overlap=label != "alone")
                row.update(round=round_no, load=label, seconds=end - start, changes=changes)
                results.append(row)
                print(
                    f"round {round_no} earn {label:<20} {row['seconds']:6.2f} s  "
                    f"{row['rps']:6.1f} req/s  p50 {row['p50_ms']:7.1f} ms  "
                    f"p99 {row['p99_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  "
                    f"errors {row['errors']} {row['error_statuses'] or ''}"
                    + (f"  ({changes:,} changes)" if changes is not None else "")
                    + f"  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return results


def medians(results: list[dict]) -> dict[str, dict]:
    out = {}
    for label in ("alone", "with the daily run"):
        rows = [r for r in results if r["load"] == label]
        out[label] = {
            key: statistics.median(r[key] for r in rows)
            for key in ("rps", "p50_ms", "p99_ms", "max_ms", "seconds")
        }
        out[label]["errors"] = sum(r["errors"] for r in rows)
    return out
