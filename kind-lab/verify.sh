#!/usr/bin/env bash
# Checks the lab end to end: the tor's BGP table (`show bgp ipv4 unicast json`, read through
# docker exec) must hold exactly the healthy demo Services' IPs, each from exactly the nodes that
# may advertise it, and every node must have a BGP session with the tor. Retries until it matches
# or VERIFY_TIMEOUT seconds (default 120) have passed; exits 1 with the differences otherwise.
# The rules live in verify.py, which runs on the tor's python3.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tools docker kubectl
[[ "$(container_state "$TOR_NAME")" == running ]] || die "the tor container $TOR_NAME is not running: run kind-lab/up.sh"

# One look at the cluster and the tor; verify.py prints the comparison and exits 1 on a mismatch.
check() {
  local nodes objects routes summary
  nodes="$(kube get nodes -o json)" || return 1
  objects="$(kube -n "$DEMO_NAMESPACE" get services,endpointslices -o json)" || return 1
  routes="$(docker exec "$TOR_NAME" vtysh -c 'show bgp ipv4 unicast json')" || return 1
  summary="$(docker exec "$TOR_NAME" vtysh -c 'show bgp ipv4 unicast summary json')" || return 1
  printf '{"nodes": %s, "objects": %s, "routes": %s, "summary": %s}\n' "$nodes" "$objects" "$routes" "$summary" |
    docker exec -i "$TOR_NAME" python3 -c "$(cat "$LAB_DIR/verify.py")" \
      --namespace "$DEMO_NAMESPACE" --allowed "$SERVICE_CIDR" --allowed "$LB_POOL"
}

timeout="${VERIFY_TIMEOUT:-120}"
deadline=$((SECONDS + timeout))
attempt=1
while true; do
  if report="$(check)"; then
    printf '%s\n' "$report"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    printf '%s\n' "$report"
    die "the tor's routes do not match the healthy Services (after $attempt checks in ${timeout}s)"
  fi
  ((attempt == 1)) && log "waiting for BGP to converge (up to ${timeout}s)…"
  attempt=$((attempt + 1))
  sleep 3
done
