#!/usr/bin/env bash
# Opens the Dapr dashboard of the cluster on a local port (the Dapr CLI port-forwards to it).
# Runs until you press Ctrl-C.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/dashboard.sh [--dry-run] [-h|--help]

Runs: dapr dashboard -k -p ${PORT:-9999}
on kubectl's current context, then open http://localhost:9999 (apps comms and greeter, their
Configuration dapr-config, the control plane's health).

Environment:
  PORT        local port for the dashboard (default 9999)

Options:
  --dry-run   print the command without running it
  -h, --help  show this help
EOF_USAGE
}

parse_dry_run_args "$@"

PORT=${PORT:-9999}
valid_port "$PORT" || die "PORT must be a port number 1-65535, got: $PORT"
need_tools dapr kubectl

is_dry_run || log "Dapr dashboard on http://localhost:$PORT (Ctrl-C to stop)"
run dapr dashboard -k -p "$PORT"
