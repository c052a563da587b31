#!/usr/bin/env bash
# Opens the Dapr dashboard, which scripts/deploy.sh installs (Dapr CLI 1.18 no longer does), on a local
# port through kubectl port-forward. Runs until you press Ctrl-C.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/dashboard.sh [--dry-run] [-h|--help]

Runs: kubectl port-forward -n dapr-system svc/dapr-dashboard --address 127.0.0.1 ${PORT:-9999}:8080
on kubectl's current context; then open http://127.0.0.1:9999 (apps, their Configuration, the
control plane's health). The dashboard is the last release of the archived dapr/dashboard.

Environment:
  PORT        local port for the dashboard (default 9999)

Options:
  --dry-run   print the command without running it
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
PORT=${PORT:-9999}
valid_port "$PORT" || die "PORT must be a port number 1-65535, got: $PORT"
need_tools kubectl

is_dry_run || log "Dapr dashboard on http://127.0.0.1:$PORT (Ctrl-C to stop)"
# The Service and port of the dapr-dashboard chart (values ports.port).
run kubectl port-forward -n dapr-system svc/dapr-dashboard --address 127.0.0.1 "$PORT:8080" ||
  die "kubectl port-forward failed (kubectl context: $(kubectl config current-context 2>/dev/null || echo none)).
  No Service dapr-dashboard? scripts/deploy.sh installs it; or point kubectl at the cluster."
