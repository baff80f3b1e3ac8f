"""Redemptions raced over HTTP against 4 gunicorn workers: exact outcomes, not just speed.

One command (a private PostgreSQL cluster is created and thrown away):

    PG_DURABLE=1 scripts/with-postgres.sh .venv/bin/python bench/redeem_http.py

What it does:
1. Migrates, enrols the members it needs through the services, gives them points
   (`points_adjust_post`), creates the rewards (`reward_create`) and an API key.
2. Starts gunicorn with 4 sync workers (production settings, as `bench/api_earn.py` does).
3. Fires each scenario's requests at once (one thread and connection each, released together by
   a barrier) and checks the answers and the database exactly:
   - `stock`: a reward with stock K=25, N=100 members who can each afford it redeem at once ->
     exactly K `201`, N-K `409 out_of_stock`, stock 0, K redemptions;
   - `balance`: one member whose points cover K=5 redemptions fires N=40 at once -> exactly K
     `201`, N-K `422 insufficient_points`, the rest of the balance untouched;
   - `same_key`: one Idempotency-Key fired 20 times at once -> one redemption; every final answer
     is that redemption (`201`, replays marked `Idempotent-Replayed`);
   - `cancel`: 10 coupons, each cancelled twice at once (different keys) -> per coupon one `200`
     and one `409 redemption_cancelled`; the points come back once.
   A client retries `409 request_in_progress` and `503` (with `Retry-After`) with the same key,
   as a storefront would; retries are counted and reported.
4. Runs `manage.py audit_ledger`; exits 1 if any check or the audit fails.

Options: `--workers N` (default 4), `--json FILE`. Results: docs/benchmarks.md ("Redemptions
raced over HTTP").
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _durable import durability_add_argument, durability_check
from api_earn import ROOT, free_port, manage, server_env, start_gunicorn

COST = 500
RETRY_LIMIT = 50


@dataclass
class Answer:
    status: int
    body: dict
    replayed: bool
    retries: int


@dataclass
class Outcome:
    scenario: str
    requests: int
    seconds: float
    retries: int
    checks: list[tuple[str, object, object]] = field(default_factory=list)

    def check(self, what: str, expected, got) -> None:
        self.checks.append((what, expected, got))

    @property
    def ok(self) -> bool:
        return all(expected == got for _, expected, got in self.checks)


# --- data ------------------------------------------------------------------------------------


def prepare(env: dict) -> str:
    """Members with points, the rewards and an API key (through the services). Returns the key."""
    import os
    from decimal import Decimal

    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from rest_framework_api_key.models import APIKey

    from loyalty.services.points import points_adjust_post
    from members.actors import Actor
    from members.services import member_enrol
    from rewards.services import reward_create

    actor = Actor.system("bench")

    def member(external_id: str, points: int) -> None:
        m = member_enrol(external_id=external_id, email=f"{external_id}@example.com", actor=actor)
        points_adjust_post(
            member=m,
            points=points,
            reason="bench",
            actor=actor,
            idempotency_key=f"bench:{external_id}",
        )

    for i in range(100):
        member(f"RS-{i:03d}", COST)
    member("RB-RICH", 5 * COST + 250)
    member("RK-KEY", 10 * COST)
    member("RC-CANCEL", 10 * COST)
    reward_create(
        code="BENCH_LIMITED",
        name="Limited £5 off",
        kind="fixed_discount",
        points_cost=COST,
        value=Decimal("5.00"),
        stock=25,
        actor=actor,
    )
    reward_create(
        code="BENCH_FIVE",
        name="£5 off",
        kind="fixed_discount",
        points_cost=COST,
        value=Decimal("5.00"),
        actor=actor,
    )
    _, raw_key = APIKey.objects.create_key(name="bench-redeem")
    connection.close()
    return raw_key


# --- the client ------------------------------------------------------------------------------


def post(port: int, key: str, path: str, body: dict, idempotency_key: str) -> Answer:
    """POST once, retrying `409 request_in_progress` and `503` with the same key."""
    retries = 0
    payload = json.dumps(body).encode()
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            path,
            body=payload,
            headers={
                "Authorization": f"Api-Key {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
            },
        )
        response = conn.getresponse()
        data = json.loads(response.read() or b"{}")
        replayed = response.getheader("Idempotent-Replayed") == "true"
        retry_after = response.getheader("Retry-After")
        conn.close()
        busy = response.status == 503 or (
            response.status == 409 and data.get("code") == "request_in_progress"
        )
        if busy and retries < RETRY_LIMIT:
            retries += 1
            time.sleep(min(float(retry_after or 0.05), 0.2))
            continue
        return Answer(response.status, data, replayed, retries)


def race(calls: list) -> tuple[list[Answer], float]:
    """Run every call in its own thread, released together; (answers, wall seconds)."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=60)
        try:
            answers[i] = calls[i]()
        except Exception as exc:
            answers[i] = Answer(0, {"code": repr(exc)}, False, 0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return answers, time.perf_counter() - start


def codes(answers: list[Answer]) -> Counter:
    return Counter(a.body.get("code") or str(a.status) for a in answers)


# --- scenarios -------------------------------------------------------------------------------


def scenario_stock(port: int, key: str) -> Outcome:
    from loyalty.models import Account
    from rewards.models import Redemption, Reward

    members = [f"RS-{i:03d}" for i in range(100)]
    answers, seconds = race(
        [
            (
                lambda m=m: post(
                    port,
                    key,
                    f"/api/v1/members/{m}/redemptions",
                    {"reward": "BENCH_LIMITED"},
                    str(uuid.uuid4()),
                )
            )
            for m in members
        ]
    )
    out = Outcome(
        "stock K=25, N=100 members", len(answers), seconds, sum(a.retries for a in answers)
    )
    out.check("answers", {"201": 25, "out_of_stock": 75}, dict(codes(answers)))
    out.check("stock left", 0, Reward.objects.get(code="BENCH_LIMITED").stock)
    out.check("redemptions", 25, Redemption.objects.filter(reward__code="BENCH_LIMITED").count())
    out.check(
        "members at 0 points",
        25,
        Account.objects.filter(member__external_id__in=members, available=0).count(),
    )
    return out


def scenario_balance(port: int, key: str) -> Outcome:
    from loyalty.models import Account
    from rewards.models import Redemption

    answers, seconds = race(
        [
            (
                lambda: post(
                    port,
                    key,
                    "/api/v1/members/RB-RICH/redemptions",
                    {"reward": "BENCH_FIVE"},
                    str(uuid.uuid4()),
                )
            )
            for _ in range(40)
        ]
    )
    out = Outcome(
        "one member, balance covers K=5, N=40", 40, seconds, sum(a.retries for a in answers)
    )
    out.check("answers", {"201": 5, "insufficient_points": 35}, dict(codes(answers)))
    out.check("redemptions", 5, Redemption.objects.filter(member__external_id="RB-RICH").count())
    out.check("balance left", 250, Account.objects.get(member__external_id="RB-RICH").available)
    return out


def scenario_same_key(port: int, key: str) -> Outcome:
    from loyalty.models import Account
    from rewards.models import Redemption

    idem = str(uuid.uuid4())
    answers, seconds = race(
        [
            (
                lambda: post(
                    port, key, "/api/v1/members/RK-KEY/redemptions", {"reward": "BENCH_FIVE"}, idem
                )
            )
            for _ in range(20)
        ]
    )
    out = Outcome("same Idempotency-Key x20", 20, seconds, sum(a.retries for a in answers))
    out.check("answers", {"201": 20}, dict(codes(answers)))
    out.check("distinct redemption ids", 1, len({a.body.get("id") for a in answers}))
    out.check("first answers (not replays)", 1, sum(not a.replayed for a in answers))
    out.check("redemptions", 1, Redemption.objects.filter(member__external_id="RK-KEY").count())
    out.check("balance", 9 * COST, Account.objects.get(member__external_id="RK-KEY").available)
    return out


def scenario_cancel(port: int, key: str) -> Outcome:
    from loyalty.models import Account, Posting

    ids = []
    for _ in range(10):
        answer = post(
            port,
            key,
            "/api/v1/members/RC-CANCEL/redemptions",
            {"reward": "BENCH_FIVE"},
            str(uuid.uuid4()),
        )
        ids.append(answer.body["id"])
    calls = [
        (lambda r=r: post(port, key, f"/api/v1/redemptions/{r}/cancel", {}, str(uuid.uuid4())))
        for r in ids
        for _ in range(2)
    ]
    answers, seconds = race(calls)
    out = Outcome("cancel x2 at once, 10 coupons", 20, seconds, sum(a.retries for a in answers))
    per_coupon = Counter(
        tuple(sorted(a.body.get("code") or str(a.status) for a in answers[i : i + 2]))
        for i in range(0, len(answers), 2)
    )
    out.check(
        "per coupon: one 200, one redemption_cancelled",
        {("200", "redemption_cancelled"): 10},
        dict(per_coupon),
    )
    out.check(
        "balance back", 10 * COST, Account.objects.get(member__external_id="RC-CANCEL").available
    )
    out.check(
        "cancel_redemption postings",
        10,
        Posting.objects.filter(member__external_id="RC-CANCEL", kind="cancel_redemption").count(),
    )
    return out


SCENARIOS = [scenario_stock, scenario_balance, scenario_same_key, scenario_cancel]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", help="also write the results to this file")
    durability_add_argument(parser)
    args = parser.parse_args()

    env = server_env()
    durability_check(env["DATABASE_URL"], allow_not_durable=args.not_durable)
    print("bench: migrating", flush=True)
    manage(env, "migrate", "--noinput")
    print("bench: members, points, rewards", flush=True)
    key = prepare(env)
    port = free_port()
    server = start_gunicorn(env, port, args.workers)
    outcomes = []
    try:
        for scenario in SCENARIOS:
            outcome = scenario(port, key)
            print(f"bench: {outcome.scenario}: {'ok' if outcome.ok else 'FAILED'}", flush=True)
            outcomes.append(outcome)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    print()
    print(f"gunicorn: {args.workers} sync workers")
    print("| scenario | requests | wall s | client retries | checks |")
    print("|---|---:|---:|---:|---|")
    for o in outcomes:
        checks = "; ".join(
            f"{what}: {got}" + ("" if expected == got else f" (expected {expected}) FAILED")
            for what, expected, got in o.checks
        )
        print(f"| {o.scenario} | {o.requests} | {o.seconds:.2f} | {o.retries} | {checks} |")
    audit = manage(env, "audit_ledger", check=False)
    print()
    print(f"audit_ledger: exit {audit.returncode}")
    print((audit.stdout + audit.stderr).strip()[-2000:])
    ok = all(o.ok for o in outcomes) and audit.returncode == 0
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "workers": args.workers,
                    "outcomes": [
                        {
                            "scenario": o.scenario,
                            "requests": o.requests,
                            "seconds": o.seconds,
                            "retries": o.retries,
                            "ok": o.ok,
                            "checks": [[w, repr(e), repr(g)] for w, e, g in o.checks],
                        }
                        for o in outcomes
                    ],
                    "audit_exit": audit.returncode,
                },
                indent=2,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
