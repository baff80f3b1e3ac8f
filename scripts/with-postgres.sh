#!/usr/bin/env bash
# Run a command with DATABASE_URL pointing at PostgreSQL.
#
# If DATABASE_URL already names a postgres:// database, the command runs against it unchanged.
# Otherwise a private, throw-away cluster is created in a temporary directory (Debian's
# `postgresql` package: initdb and pg_ctl live in /usr/lib/postgresql/<version>/bin), started on a
# spare port on 127.0.0.1, and stopped and removed when the command ends, whatever its outcome.
# initdb refuses to run as root, so as root the cluster runs as the `postgres` system user.
#
# Durability: by default the private cluster runs with fsync, synchronous_commit and
# full_page_writes off (it is thrown away; the test suite runs much faster). PG_DURABLE=1 keeps
# all three on, as a production server has them: every benchmark figure is measured that way
# (`make bench` sets it; the benchmarks refuse a cluster without it unless told otherwise).
set -euo pipefail

if [[ "${DATABASE_URL:-}" == postgres://* || "${DATABASE_URL:-}" == postgresql://* ]]; then
  exec "$@"
fi

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pg_bin" || ! -x "$pg_bin/initdb" ]]; then
  echo "with-postgres: PostgreSQL server not found; install Debian's 'postgresql' package" >&2
  exit 1
fi

as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home /nonexistent --shell /usr/sbin/nologin postgres
  as_pg=(runuser -u postgres --)
fi

datadir=$(mktemp -d /tmp/loyalty-pg.XXXXXX)
chmod 755 "$datadir"
[[ ${#as_pg[@]} -gt 0 ]] && chown postgres "$datadir"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$datadir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

"${as_pg[@]}" "$pg_bin/initdb" -D "$datadir/data" -U postgres --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$datadir/initdb.log" 2>&1 || { cat "$datadir/initdb.log" >&2; exit 1; }
if [[ "${PG_DURABLE:-0}" == 1 ]]; then
  # Durable: PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on).
  durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  label="durable"
else
  # Durability off: this cluster is thrown away; it makes the test suite much faster.
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  label="durability off"
fi
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $port -k $datadir $durability \
      -c max_connections=200 -c shared_buffers=256MB" \
  start >/dev/null || { cat "$datadir/server.log" >&2; exit 1; }

export DATABASE_URL="postgres://postgres@127.0.0.1:$port/loyalty"
"$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres loyalty
echo "with-postgres: private cluster on 127.0.0.1:$port ($datadir, $label)" >&2
set +e
"$@"
status=$?
exit $status
