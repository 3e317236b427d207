#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster.
#
# Usage: tests/with_postgres.sh COMMAND [ARGS...]
#
# Starts a private cluster on a free loopback port in a temporary folder,
# creates the database "wave_test", exports WAVE_TEST_DATABASE_URL for the
# command, and removes the cluster when the command ends, whatever its
# result. As root, the server runs as the "postgres" user (PostgreSQL
# refuses to run as root).
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "${pg_bin}" ]]; then
  echo "with_postgres: no PostgreSQL server found; run 'make deps'" >&2
  exit 1
fi

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_dir=$(mktemp -d /tmp/wave-pg.XXXXXX)
chmod 755 "${pg_dir}"
if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "${pg_dir}"; fi

cleanup() {
  as_pg "${pg_bin}/pg_ctl" -D "${pg_dir}/data" -m immediate -w stop \
    >/dev/null 2>&1 || true
  rm -rf "${pg_dir}"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

as_pg "${pg_bin}/initdb" -D "${pg_dir}/data" -U postgres --auth=trust \
  -E UTF8 --locale=C.UTF-8 --no-sync >"${pg_dir}/initdb.log" 2>&1 || {
  cat "${pg_dir}/initdb.log" >&2
  exit 1
}
as_pg "${pg_bin}/pg_ctl" -D "${pg_dir}/data" -l "${pg_dir}/server.log" -w \
  -t 60 -o "-p ${port} -k ${pg_dir} -c listen_addresses=127.0.0.1 \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  -c max_connections=300" start >/dev/null || {
  cat "${pg_dir}/server.log" >&2
  exit 1
}
as_pg "${pg_bin}/createdb" -h 127.0.0.1 -p "${port}" -U postgres wave_test

export WAVE_TEST_DATABASE_URL="host=127.0.0.1 port=${port} user=postgres dbname=wave_test"
"$@"
