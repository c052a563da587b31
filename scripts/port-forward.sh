#!/usr/bin/env bash
# Forwards a local port to the comms Service in the cluster, so that curl and scripts/load.sh reach it
# on localhost without an ingress. Runs until you press Ctrl-C.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/port-forward.sh [--dry-run] [-h|--help]

Runs: kubectl port-forward -n dapr-services svc/comms-service ${LOCAL_PORT:-8080}:80
on kubectl's current context (scripts/deploy.sh points it at the EKS cluster). Then, elsewhere:
  curl -X POST localhost:8080/greet -H 'Content-Type: application/json' -d '{"name":"Ada"}'

Environment:
  LOCAL_PORT  local port to listen on (default 8080)

Options:
  --dry-run   print the command without running it
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
LOCAL_PORT=${LOCAL_PORT:-8080}
valid_port "$LOCAL_PORT" || die "LOCAL_PORT must be a port number 1-65535, got: $LOCAL_PORT"
need_tools kubectl

is_dry_run || log "comms on localhost:$LOCAL_PORT (Ctrl-C to stop). Try:
    curl -X POST localhost:$LOCAL_PORT/greet -H 'Content-Type: application/json' -d '{\"name\":\"Ada\"}'"
run kubectl port-forward -n dapr-services svc/comms-service "$LOCAL_PORT:80" ||
  die "kubectl port-forward failed (kubectl context: $(kubectl config current-context 2>/dev/null || echo none)).
  No Service comms-service? Deploy first with scripts/deploy.sh, or point kubectl at the cluster:
  aws eks update-kubeconfig --name $(yaml_metadata "$REPO_ROOT/eksctl/cluster.yaml" name) --region $(yaml_metadata "$REPO_ROOT/eksctl/cluster.yaml" region)"
