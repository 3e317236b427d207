#!/usr/bin/env bash
# Runs the service locally: a private PostgreSQL, the Pipedrive sandbox (when
# no real Pipedrive app credentials are given) and the server wired to both.
#
# Usage: deploy/local/run.sh [BUILD_DIR]        (normally via 'make run')
#
# Environment (all optional):
#   GRPC_PORT                  port of the gRPC server (default 50051)
#   SANDBOX_PORT               port of the Pipedrive sandbox (default 8081)
#   DATABASE_URL               use this PostgreSQL instead of a private one
#   PIPEDRIVE_CLIENT_ID, PIPEDRIVE_CLIENT_SECRET (or _FILE),
#   PIPEDRIVE_REDIRECT_URI     talk to the real Pipedrive with this app
# Ctrl-C stops everything and removes the private database.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(cd "${1:-${root}/build}" && pwd)
server="${build_dir}/server/pipedrive-sync-server"
sandbox="${build_dir}/client/sandbox/pipedrive-sandbox"
grpc_port="${GRPC_PORT:-50051}"
sandbox_port="${SANDBOX_PORT:-8081}"
state_dir="${root}/.run"
mkdir -p "${state_dir}"
chmod 700 "${state_dir}"

pids=()
pg_dir=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  # The server first: it drains in-flight calls on SIGTERM.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [[ -n "${pg_dir}" ]]; then
    as_pg "${pg_bin}/pg_ctl" -D "${pg_dir}/data" -m fast -w stop \
      >/dev/null 2>&1 || true
    rm -rf "${pg_dir}"
  fi
  echo "stopped."
}
trap stop_all INT TERM EXIT

wait_for_port() {
  local port=$1 what=$2
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "${what} did not start on port ${port}" >&2
  exit 1
}

# 1. PostgreSQL: a throwaway cluster, unless DATABASE_URL points elsewhere.
if [[ -z "${DATABASE_URL:-}" ]]; then
  # PostgreSQL runs as 'postgres', which must be able to reach the folder.
  pg_dir=$(mktemp -d /tmp/wave-run-pg.XXXXXX)
  chmod 755 "${pg_dir}"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "${pg_dir}"; fi
  pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg "${pg_bin}/initdb" -D "${pg_dir}/data" -U postgres --auth=trust \
    -E UTF8 --locale=C.UTF-8 >"${pg_dir}/initdb.log" 2>&1
  as_pg "${pg_bin}/pg_ctl" -D "${pg_dir}/data" -l "${pg_dir}/server.log" -w \
    -o "-p ${pg_port} -k ${pg_dir} -c listen_addresses=127.0.0.1" start \
    >/dev/null
  as_pg "${pg_bin}/createdb" -h 127.0.0.1 -p "${pg_port}" -U postgres wave
  export DATABASE_URL="host=127.0.0.1 port=${pg_port} user=postgres dbname=wave"
  echo "PostgreSQL: private cluster on 127.0.0.1:${pg_port} (removed on exit)"
fi

# 2. Pipedrive: the real one when app credentials are given, else the sandbox.
if [[ -n "${PIPEDRIVE_CLIENT_ID:-}" ]]; then
  if [[ -z "${PIPEDRIVE_CLIENT_SECRET:-}${PIPEDRIVE_CLIENT_SECRET_FILE:-}" ]]; then
    echo "PIPEDRIVE_CLIENT_ID is set: set PIPEDRIVE_CLIENT_SECRET or PIPEDRIVE_CLIENT_SECRET_FILE too" >&2
    exit 2
  fi
  export PIPEDRIVE_OAUTH_URL="${PIPEDRIVE_OAUTH_URL:-https://oauth.pipedrive.com}"
  using_sandbox=false
  echo "Pipedrive: the real one, app ${PIPEDRIVE_CLIENT_ID}"
else
  export PIPEDRIVE_CLIENT_ID="wave-local"
  export PIPEDRIVE_CLIENT_SECRET
  PIPEDRIVE_CLIENT_SECRET=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  "${sandbox}" --port "${sandbox_port}" --client_id "${PIPEDRIVE_CLIENT_ID}" \
    --client_secret "${PIPEDRIVE_CLIENT_SECRET}" &
  pids+=($!)
  wait_for_port "${sandbox_port}" "the Pipedrive sandbox"
  export PIPEDRIVE_OAUTH_URL="http://127.0.0.1:${sandbox_port}"
  using_sandbox=true
fi
export PIPEDRIVE_REDIRECT_URI="${PIPEDRIVE_REDIRECT_URI:-http://localhost:8080/integrations/pipedrive/callback}"

# 3. Development keys, kept in .run/ so tokens stay readable across runs.
if [[ ! -s "${state_dir}/token-keys" ]]; then
  printf 'local1:%s\n' "$(head -c 32 /dev/urandom | base64)" \
    >"${state_dir}/token-keys"
fi
if [[ ! -s "${state_dir}/state-key" ]]; then
  head -c 32 /dev/urandom | base64 >"${state_dir}/state-key"
fi
export TOKEN_ENCRYPTION_KEYS_FILE="${state_dir}/token-keys"
export STATE_SIGNING_KEY_FILE="${state_dir}/state-key"

# 4. The server.
LISTEN_ADDRESS="127.0.0.1:${grpc_port}" "${server}" &
pids+=($!)
wait_for_port "${grpc_port}" "the server"

addr="127.0.0.1:${grpc_port}"
svc="wave.integrations.pipedrive.v1.PipedriveSync"
imported='{"account_id":"acct-1","contact":{"contact_id":"c-2","version":"1","first_name":"Ken","last_name":"Adams","emails":[{"value":"ken@example.org","label":"work","primary":true}]}} {"account_id":"acct-1","contact":{"contact_id":"c-3","version":"1","first_name":"Lee","emails":[{"value":"lee@example.org","label":"home"}],"company":"Example Inc"}}'
contact='{"account_id":"acct-1","contact":{"contact_id":"c-1","version":"1","first_name":"Jane","last_name":"Doe","emails":[{"value":"jane@example.com","label":"work","primary":true}],"phones":[{"value":"+1 415 555 0100","label":"mobile"}],"job_title":"VP Sales","company":"Example Inc","owner_email":"bob@acme.example"}}'
cat <<EOF_HELP

The Pipedrive sync service is listening on ${addr} (plaintext, reflection on).
Copy and paste (grpcurl; 'npx @bufbuild/buf curl --protocol grpc
--http2-prior-knowledge -d JSON http://${addr}/${svc}/METHOD' works the same):

  # 1. Build the consent URL for Wave account acct-1
  grpcurl -plaintext -d '{"account_id":"acct-1"}' ${addr} ${svc}/GetAuthorizationUrl
EOF_HELP
if [[ "${using_sandbox}" == true ]]; then
  cat <<EOF_HELP

  # 2. "Approve" in the sandbox: it redirects with a code (and the state)
  curl -s -o /dev/null -w '%{redirect_url}\n' 'PASTE_AUTHORIZATION_URL'
EOF_HELP
else
  cat <<EOF_HELP

  # 2. Open the authorization URL in a browser and approve; Pipedrive
  #    redirects to ${PIPEDRIVE_REDIRECT_URI}?code=...&state=...
EOF_HELP
fi
cat <<EOF_HELP

  # 3. Connect with the code and state from that redirect
  grpcurl -plaintext -d '{"account_id":"acct-1","code":"CODE","state":"STATE"}' ${addr} ${svc}/ConnectIntegration

  # 4. Sync a contact, then look at it and at the integration
  grpcurl -plaintext -d '${contact}' ${addr} ${svc}/SyncContact
  grpcurl -plaintext -d '{"account_id":"acct-1","contact_id":"c-1"}' ${addr} ${svc}/GetContactSync
  grpcurl -plaintext -d '{"account_id":"acct-1"}' ${addr} ${svc}/GetIntegration

  # 5. Import existing contacts (client streaming: one JSON message per
  #    contact), then follow the import with the id it answered
  grpcurl -plaintext -d '${imported}' ${addr} ${svc}/ImportAll
  grpcurl -plaintext -d '{"account_id":"acct-1","import_id":"IMPORT_ID"}' ${addr} ${svc}/GetImport

  # 6. Delete c-1, then disconnect (revokes access; Pipedrive records stay)
  grpcurl -plaintext -d '{"account_id":"acct-1","contact_id":"c-1","version":"2"}' ${addr} ${svc}/DeleteContact
  grpcurl -plaintext -d '{"account_id":"acct-1"}' ${addr} ${svc}/DisconnectIntegration
EOF_HELP
if [[ "${using_sandbox}" == true ]]; then
  echo
  echo "  # What the sandbox holds (persons, leads, users)"
  echo "  curl -s http://127.0.0.1:${sandbox_port}/_sandbox/state"
fi
echo
echo "Press Ctrl-C to stop."
wait -n "${pids[@]}" || true
