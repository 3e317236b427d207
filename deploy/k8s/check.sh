#!/usr/bin/env bash
# Offline checks for the Kubernetes base; no cluster is needed.
#   1. `kubectl kustomize` renders it.
#   2. The render holds no Secret (the real one is created out of band).
#   3. Every secret file the pods read is a key of secret.example.yaml.
#   4. yamllint (relaxed) passes on the sources and on the render.
#   5. shellcheck passes on this script.
# Usage: deploy/k8s/check.sh (from any directory). Exits non-zero on the
# first failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly secrets_dir="/etc/pipedrive-sync/secrets"

fail() {
  echo "check.sh: FAIL: $*" >&2
  exit 1
}

# Installs a Debian package when its command is missing and we are root;
# otherwise says what to install.
require() {
  local cmd="$1" package="$2"
  command -v "${cmd}" >/dev/null 2>&1 && return 0
  if [[ "$(id -u)" -ne 0 ]]; then
    fail "${cmd} not found; install the Debian package ${package}"
  fi
  echo "check.sh: ${cmd} not found, installing ${package} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${package}" >/dev/null
}

# Debian's own kubernetes-client (1.20) is too old for this kustomization;
# kubectl comes with the Google Cloud CLI here.
command -v kubectl >/dev/null 2>&1 \
  || fail "kubectl not found; install a kubectl of version 1.27 or newer"
require yamllint yamllint
require shellcheck shellcheck

render="$(mktemp)"
trap 'rm -f "${render}"' EXIT

kubectl kustomize "${here}" >"${render}" \
  || fail "kubectl kustomize ${here} did not render"
echo "ok: kubectl kustomize renders $(grep -c '^kind:' "${render}") objects"

if grep -q '^kind: Secret$' "${render}"; then
  fail "the render contains a Secret; keep secrets out of kustomization.yaml"
fi
echo "ok: no Secret in the render"

mapfile -t mounted_keys < <(
  grep -o "${secrets_dir}/[a-z0-9-]*" "${render}" | sed 's|.*/||' | sort -u)
[[ "${#mounted_keys[@]}" -gt 0 ]] || fail "no ${secrets_dir} paths found"
for key in "${mounted_keys[@]}"; do
  grep -q "^  ${key}:" "${here}/secret.example.yaml" \
    || fail "secret key ${key} is read by a pod but not in secret.example.yaml"
done
echo "ok: secret keys ${mounted_keys[*]} are documented"

yamllint -s -d relaxed "${here}"/*.yaml "${render}" \
  || fail "yamllint found problems"
echo "ok: yamllint -d relaxed"

shellcheck "${here}/check.sh" || fail "shellcheck found problems"
echo "ok: shellcheck"

echo "check.sh: all checks passed"
