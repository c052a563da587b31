#!/usr/bin/env bash
# Stops exactly what scripts/local-up.sh started: the PIDs in its run directory's PID file, and only
# while each is still the process it recorded. TERM first, KILL after a bound, then checks they are gone.
# Safe to run twice; with nothing running it says so and succeeds.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/local-down.sh

Environment:
  LOCAL_RUN_DIR   the run directory local-up used (default ~/.local/state/dapr-tracing-demo/local)
  STOP_TIMEOUT    seconds to wait after TERM before KILL (default 20)
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

RUN_DIR="${LOCAL_RUN_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/dapr-tracing-demo/local}"
PID_FILE="$RUN_DIR/pids"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
[[ "$STOP_TIMEOUT" =~ ^[0-9]+$ ]] || die "STOP_TIMEOUT must be a number of seconds: $STOP_TIMEOUT"

need_tools ps

[[ -d "$RUN_DIR" ]] && RUN_DIR="$(cd "$RUN_DIR" && pwd)" && PID_FILE="$RUN_DIR/pids"
if [[ ! -f "$PID_FILE" ]]; then
  log "nothing to stop: no $PID_FILE"
  exit 0
fi

names=() pids=()
while read -r name pid; do
  [[ "$pid" =~ ^[0-9]+$ ]] || continue
  if ours "$pid" "$RUN_DIR"; then
    names+=("$name")
    pids+=("$pid")
  fi
done <"$PID_FILE"

if ((${#pids[@]} == 0)); then
  log "nothing was running from $RUN_DIR"
  rm -f "$PID_FILE"
  exit 0
fi

log "stopping ${names[*]} (pids ${pids[*]})"
kill -TERM "${pids[@]}" 2>/dev/null || true

# remaining: the indexes of recorded processes still alive.
remaining() {
  local i
  for i in "${!pids[@]}"; do
    ours "${pids[$i]}" "$RUN_DIR" && printf '%s ' "$i"
  done
  return 0
}

deadline=$((SECONDS + STOP_TIMEOUT))
left="$(remaining)"
while [[ -n "$left" ]] && ((SECONDS < deadline)); do
  sleep 0.2
  left="$(remaining)"
done

if [[ -n "$left" ]]; then
  for i in $left; do
    warn "${names[$i]} (pid ${pids[$i]}) ignored TERM for ${STOP_TIMEOUT}s: sending KILL"
    kill -KILL "${pids[$i]}" 2>/dev/null || true
  done
  deadline=$((SECONDS + 5))
  left="$(remaining)"
  while [[ -n "$left" ]] && ((SECONDS < deadline)); do
    sleep 0.2
    left="$(remaining)"
  done
  if [[ -n "$left" ]]; then
    for i in $left; do warn "${names[$i]} (pid ${pids[$i]}) is still running"; done
    die "some processes could not be stopped; the PID file $PID_FILE is kept"
  fi
fi

rm -f "$PID_FILE"
log "stopped: ${names[*]}"
