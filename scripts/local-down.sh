#!/usr/bin/env bash
# Stops what scripts/local-up.sh started: `dapr stop -f .`, then Zipkin and Redis.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/local-down.sh

Stops the apps and sidecars of dapr.yaml (`dapr stop -f .`) and the Zipkin and Redis
scripts/local-up.sh started, and waits until their ports are free (up to STOP_TIMEOUT seconds,
default 30). Redis' data and the receipts stay in ~/.local/state/dapr-tracing-demo/local.
EOF_USAGE
}
parse_no_args "$@"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"

dapr=$("$SCRIPTS_DIR/daprd.sh" dapr 2>/dev/null)
(cd "$REPO_ROOT" && "$dapr" stop -f .) >/dev/null 2>&1 || info "dapr.yaml's apps were not running"
# What local-up started, while each PID is still its process: Zipkin, Redis, and a Dapr CLI still starting the
# apps, which `dapr stop` cannot find yet. Each leads its process group, stopped whole (TERM: started in
# the background, both ignore INT).
groups=()
for name in dapr:"run -f ." zipkin:zipkin-server redis:redis-server; do
  pid=$(cat "$LOCAL_STATE/${name%%:*}.pid" 2>/dev/null) || continue
  [[ "$(ps -o args= -p "$pid" 2>/dev/null)" != *"${name#*:}"* ]] || { kill -TERM -- "-$pid" && groups+=("$pid"); }
  rm -f "$LOCAL_STATE/${name%%:*}.pid"
done

deadline=$((SECONDS + STOP_TIMEOUT))
for port in $(local_ports); do
  while port_in_use "$port"; do
    ((SECONDS < deadline)) || die "port $port is still taken after ${STOP_TIMEOUT}s: $(ss -Hltnp "sport = :$port")"
    sleep 0.5
  done
done
for pid in "${groups[@]+"${groups[@]}"}"; do
  while pgrep -g "$pid" >/dev/null; do
    # A Dapr CLI still starting an app acts on a signal only once the app is up.
    ((SECONDS < deadline)) || { warn "killing what still runs: $(pgrep -a -g "$pid" | paste -sd,)"; kill -KILL -- "-$pid"; }
    sleep 0.5
  done
done
log "stopped"
