"""Storefront load for the fault tests: a gunicorn server and client threads posting orders.

`gunicorn(url, log_dir)` starts `gunicorn config.wsgi` with sync workers on the database at `url`
and yields it (`.port`, `.worker_pids()`); without the control socket, whose one default path
would be shared by every server the suite starts at once. `OrderLoad` runs client threads, each
posting its own orders one after the other, as a storefront's checkout does: an order that gets
no answer (the connection dropped), or a 5xx, is sent again with the same body until it is
acknowledged (orders are idempotent by `order_id`, so a retry never earns twice; no
`Idempotency-Key` is needed). Every retry and every answer is kept for the test's assertions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.hardening.cluster import ROOT, django_env, free_port, wait_until

ACKNOWLEDGED = (200, 201)


class Server:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process = process
        self.port = port

    def worker_pids(self) -> set[int]:
        """The live worker processes (the master's children)."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid and fields[0] != "Z":
                    children.add(int(stat.parent.name))
        return children

    def answers(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False


@contextlib.contextmanager
def gunicorn(url: str, log_dir: Path, *, workers: int = 2, **env: str) -> Iterator[Server]:
    port = free_port()
    log = (log_dir / f"gunicorn-{port}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(workers),
         "-b", f"127.0.0.1:{port}", "--timeout", "60", "--no-control-socket"],
        cwd=ROOT,
        env=django_env(url, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    server = Server(process, port)
    try:
        wait_until(
            lambda: len(server.worker_pids()) == workers and server.answers(),
            timeout=90,
            what="gunicorn's workers",
        )
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def order_points(client: int, n: int) -> int:
    """Each order's total is a whole amount (1-9), so its points are known in advance."""
    return (client * 7 + n) % 9 + 1


@dataclass
class OrderLoad:
    server: Server
    key: str
    currency: str
    clients: int = 4
    orders_per_client: int = 25
    members: int = 2
    deadline_seconds: float = 50
    acknowledged: dict[str, dict] = field(default_factory=dict)
    retried: list[tuple[str, str]] = field(default_factory=list)  # (order id, what went wrong)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.placed_at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        self.threads = [
            threading.Thread(target=self._client, args=(c,), daemon=True)
            for c in range(self.clients)
        ]

    def order_ids(self) -> list[str]:
        return [f"L-{c}-{n}" for c in range(self.clients) for n in range(self.orders_per_client)]

    def expected_balances(self) -> dict[str, int]:
        balances: dict[str, int] = {}
        for c in range(self.clients):
            member = self._member(c)
            balances[member] = balances.get(member, 0) + sum(
                order_points(c, n) for n in range(self.orders_per_client)
            )
        return balances

    def start(self) -> OrderLoad:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=self.deadline_seconds + 30)

    def done(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def _member(self, client: int) -> str:
        return f"F-{client % self.members + 1}"

    def _client(self, c: int) -> None:
        for n in range(self.orders_per_client):
            body = {
                "order_id": f"L-{c}-{n}",
                "member": self._member(c),
                "placed_at": self.placed_at,
                "currency": self.currency,
                "total": f"{order_points(c, n)}.00",
            }
            if not self._send_until_answered(body):
                return

    def _send_until_answered(self, body: dict) -> bool:
        order_id = body["order_id"]
        while time.monotonic() - self.started < self.deadline_seconds:
            try:
                status, answer = self._post(body)
            except (OSError, http.client.HTTPException) as error:  # refused, reset, dropped
                self._retry(order_id, type(error).__name__)
                continue
            if status in ACKNOWLEDGED:
                with self.lock:
                    self.acknowledged[order_id] = {"status": status, **json.loads(answer)}
                return True
            if status >= 500:
                self._retry(order_id, str(status))
                continue
            with self.lock:
                self.refused[order_id] = (status, answer.decode()[:500])
            return False
        return False

    def _retry(self, order_id: str, what: str) -> None:
        with self.lock:
            self.retried.append((order_id, what))
        time.sleep(0.05)

    def _post(self, body: dict) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/api/v1/orders",
                body=json.dumps(body),
                headers={
                    "Authorization": f"Api-Key {self.key}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
