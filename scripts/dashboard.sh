#!/usr/bin/env bash
# Opens the Dapr dashboard of the cluster on a local port: kubectl port-forwards to the Service of
# the dashboard's Helm chart, which scripts/deploy.sh installs. Runs until you press Ctrl-C.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/dashboard.sh [--dry-run] [-h|--help]

Runs: kubectl port-forward -n dapr-system svc/dapr-dashboard --address 127.0.0.1 ${PORT:-9999}:8080
on kubectl's current context, then open http://127.0.0.1:9999 (apps comms and greeter, their
Configuration dapr-config, the control plane's health). The dashboard is the last release of an
archived project (dapr/dashboard v0.15.0), installed by scripts/deploy.sh.

Environment:
  PORT        local port for the dashboard (default 9999)

Options:
  --dry-run   print the command without running it
  -h, --help  show this help
EOF_USAGE
}

parse_dry_run_args "$@"

# The Service and port of the dapr-dashboard chart (dapr/dashboard chart/dapr-dashboard, values ports.port).
NAMESPACE=dapr-system
SERVICE=dapr-dashboard
SERVICE_PORT=8080
PORT=${PORT:-9999}
valid_port "$PORT" || die "PORT must be a port number 1-65535, got: $PORT"
need_tools kubectl

if ! is_dry_run; then
  if ! err=$(kubectl get service "$SERVICE" -n "$NAMESPACE" 2>&1 >/dev/null); then
    context=$(kubectl config current-context 2>/dev/null || echo "none")
    die "service $SERVICE not found in namespace $NAMESPACE (kubectl context: $context).
  kubectl said: $err
  scripts/deploy.sh installs the dashboard (Dapr CLI 1.18 no longer does); or point kubectl at the cluster."
  fi
  log "Dapr dashboard on http://127.0.0.1:$PORT (Ctrl-C to stop)"
fi
run kubectl port-forward -n "$NAMESPACE" "svc/$SERVICE" --address 127.0.0.1 "$PORT:$SERVICE_PORT"
