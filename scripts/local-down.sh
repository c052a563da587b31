#!/usr/bin/env bash
# Stops exactly what scripts/local-up.sh started, and only while each PID is still the process it recorded.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/local-down.sh

Stops what scripts/local-up.sh started (the apps, sidecars, Sentry and Zipkin, then the Dapr CLI):
TERM, KILL after STOP_TIMEOUT, then checks all are gone. Safe to run twice.

Environment:
  LOCAL_RUN_DIR   the run directory local-up used (default ~/.local/state/dapr-tracing-demo/local)
  STOP_TIMEOUT    seconds to wait after TERM before KILL (default 20)
EOF
}

parse_no_args "$@"

RUN_DIR="${LOCAL_RUN_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/dapr-tracing-demo/local}"
PID_FILE="$RUN_DIR/pids"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || die "STOP_TIMEOUT must be a number of seconds: $STOP_TIMEOUT"

need_tools ps pgrep

[[ -d "$RUN_DIR" ]] && RUN_DIR="$(cd "$RUN_DIR" && pwd)" && PID_FILE="$RUN_DIR/pids"
if [[ ! -f "$PID_FILE" ]]; then
  log "nothing to stop: no $PID_FILE"
  exit 0
fi

# TARGETS: NAME:PID of each recorded process still running as itself; the Dapr CLI's as NAME:-PID,
# its process group, which `dapr stop -f` also signals whole (a sidecar or app local-up had not yet
# recorded stops with it).
apps=() clis=()
while read -r name pid; do
  { [[ "$pid" =~ ^[0-9]+$ ]] && ours "$pid" "$RUN_DIR"; } || continue
  if [[ "$name" == dapr ]]; then clis+=("$name:-$pid"); else apps+=("$name:$pid"); fi
done <"$PID_FILE"

if ((${#apps[@]} + ${#clis[@]} == 0)); then
  log "nothing was running from $RUN_DIR"
  rm -f "$PID_FILE"
  exit 0
fi

# running PID : still running as recorded; a negative PID: its process group has a process left.
running() { if (($1 < 0)); then pgrep -g "${1#-}" >/dev/null; else ours "$1" "$RUN_DIR"; fi; }

# stop SIGNAL SECONDS TARGET... : signals the targets, then waits until none runs or SECONDS pass;
# LEFT holds those still running.
stop() {
  local signal=$1 deadline=$((SECONDS + $2)) t
  shift 2
  LEFT=()
  (($#)) || return 0
  kill "-$signal" -- "${@##*:}" 2>/dev/null || true
  while :; do
    LEFT=()
    for t in "$@"; do running "${t##*:}" && LEFT+=("$t"); done
    ((${#LEFT[@]} && SECONDS < deadline)) || return 0
    sleep 0.2
  done
}

log "stopping ${apps[*]} ${clis[*]}"
# The apps and sidecars before the CLI: told first, it would KILL those not yet exited.
stop TERM "$STOP_TIMEOUT" "${apps[@]+"${apps[@]}"}"
left=("${LEFT[@]+"${LEFT[@]}"}")
stop TERM "$STOP_TIMEOUT" "${clis[@]+"${clis[@]}"}"
left+=("${LEFT[@]+"${LEFT[@]}"}")
if ((${#left[@]})); then
  warn "${left[*]} ignored TERM for ${STOP_TIMEOUT}s: sending KILL"
  stop KILL 5 "${left[@]}"
  ((${#LEFT[@]} == 0)) || die "${LEFT[*]} could not be stopped; the PID file $PID_FILE is kept"
fi

rm -f "$PID_FILE"
log "stopped"
