"""`python manage.py jobs_worker`: a Procrastinate worker that outlives a database restart.

Procrastinate's own `manage.py procrastinate worker` stops for good when it loses the database:
any of its side tasks (heartbeat, periodic deferrer, LISTEN) failing on a dropped connection
stops the worker, and a failed fetch ends it. This command runs that same worker in a loop: when
it stops without having been asked to (SIGTERM / SIGINT), the command waits until PostgreSQL
answers again (backing off up to 10 s between attempts) and starts a fresh one in the same
process, as a supervisor would.

Nothing is lost meanwhile: a job the stopped worker was running either recorded its outcome, or
stays `doing` under the old worker id, whose heartbeat goes stale, and `retry_stalled_jobs`
runs it again (at least once, like any job). A stop request ends the current worker gracefully
(running jobs get `shutdown_graceful_timeout`) and then the command.

Options are those of the worker (`--name`, `--queues`, `--concurrency`); the rest comes from
`PROCRASTINATE_WORKER_DEFAULTS` (config/settings/base.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import psycopg
from django.core.management.base import BaseCommand
from procrastinate.contrib.django import settings as procrastinate_settings
from procrastinate.contrib.django.utils import connector_params

logger = logging.getLogger("jobs.worker")
# The longest wait between two attempts to reach the database after the worker stopped.
RECONNECT_MAX_SECONDS = 10.0


class Command(BaseCommand):
    help = "Run a job worker that reconnects after the database restarts (docs/jobs.md)."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="worker", help="The worker's name in logs.")
        parser.add_argument(
            "--queues", default="", help="Comma-separated queues to serve (default: all)."
        )
        parser.add_argument("--concurrency", type=int, default=None, help="Jobs at once.")

    def handle(self, *args, name: str, queues: str, concurrency: int | None, **options):
        from procrastinate.contrib.django import app

        worker_options = {"name": name, "install_signal_handlers": False}
        if queues:
            worker_options["queues"] = [q.strip() for q in queues.split(",") if q.strip()]
        if concurrency is not None:
            worker_options["concurrency"] = concurrency
        self.stderr.write(f"Worker {name} on {queues or 'all queues'}")
        with app.replace_connector(app.connector.get_worker_connector()):
            asyncio.run(serve(app, worker_options))


async def serve(app, worker_options: dict) -> None:
    """Run workers one after the other until asked to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        await _run_one(app, worker_options, stop)
        if not stop.is_set():
            logger.warning("Worker stopped without a stop request; restarting it")
            await _database_back(stop)


async def _run_one(app, worker_options: dict, stop: asyncio.Event) -> None:
    try:
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(**worker_options))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not worker.done():
                worker.cancel()  # a graceful stop: running jobs get their grace period
            await asyncio.gather(worker, return_exceptions=True)
            if worker.cancelled() or worker.exception() is None:
                return
            logger.error("Worker failed", exc_info=worker.exception())
    except Exception:  # opening the pool failed: the database is unreachable
        logger.exception("Worker could not start")


async def _database_back(stop: asyncio.Event) -> None:
    """Wait until the database answers (or a stop request), backing off exponentially."""
    params = connector_params(procrastinate_settings.settings.DATABASE_ALIAS)
    delay = 0.5
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(**params, connect_timeout=5) as db:
                await db.execute("SELECT 1")
                return
        except psycopg.Error as error:  # still down (or starting): try again later
            logger.warning("Database not reachable yet: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
