"""A private PostgreSQL cluster that a fault test may restart, and the processes that use it.

The suite runs on two processes sharing one cluster (scripts/with-postgres.sh), so a test that
restarts PostgreSQL gets its own: `PrivateCluster.create()` runs initdb (Debian's binaries, as
the `postgres` user when we are root), starts it on a spare port, migrates a template database
once; `cluster.database(name)` copies the template (a file copy: well under a second) for one
test. `restart()` is `pg_ctl restart -m immediate`: every backend is killed without a word to its
client, as in a crash, then crash recovery. Commits are synchronous (as in production), so an
answer the server sent is never lost by the restart; fsync stays off (the machine does not crash,
only PostgreSQL).

`run_remote(url, command, **arguments)` runs one function of tests/hardening/remote.py in a Django
process on that database and returns what it printed (JSON): the test process's own Django
connection stays on the suite's database.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_env(url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def run_remote(url: str, command: str, **arguments) -> dict:
    """Run `tests.hardening.remote.<command>(**arguments)` on the database at `url`."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.hardening.remote", command, json.dumps(arguments)],
        cwd=ROOT,
        env=django_env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"remote {command} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class PrivateCluster:
    def __init__(self) -> None:
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version)[-1]
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="loyalty-faults-pg."))
        self.dir.chmod(0o755)
        if self.as_pg:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()

    @classmethod
    def create(cls) -> PrivateCluster:
        cluster = cls()
        try:
            cluster._pg("initdb", "-D", cluster.data, "-U", "postgres", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
            cluster._ctl("start")
            cluster._pg("createdb", *cluster._where(), "template_loyalty")
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v", "0", "--noinput"],
                cwd=ROOT,
                env=django_env(cluster.url("template_loyalty")),
                check=True,
                timeout=300,
            )
        except BaseException:  # no server left running when the fixture fails
            cluster.destroy()
            raise
        return cluster

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def database(self, name: str) -> str:
        """A fresh, migrated database `name` (a copy of the template); its URL."""
        self._pg("createdb", *self._where(), "-T", "template_loyalty", name)
        return self.url(name)

    def restart(self) -> None:
        """Kill every backend (a crash), then start again and wait until it accepts connections."""
        self._ctl("restart", "-m", "immediate")

    def destroy(self) -> None:
        subprocess.run(
            [*self.as_pg, self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def _where(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]

    def _ctl(self, action: str, *args: str) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=100 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=on"
        )
        self._pg("pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-w", "-t", "60",
                 "-o", options, action, *args)  # fmt: skip

    def _pg(self, program: str, *args) -> None:
        as_user = self.as_pg if program in ("initdb", "pg_ctl") else []
        done = subprocess.run(
            [*as_user, self.bin / program, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stderr}{done.stdout}\n{tail}")


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())


def wait_until(check, *, timeout: float, what: str):
    """Poll `check()` every 0.1 s until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
