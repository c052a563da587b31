#!/usr/bin/env bash
# Deploys the demo to EKS: the cluster and what is EKS's or Datadog's, then scripts/install.sh for the rest.
# Every step looks first and does only what is missing, so a re-run is safe.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [--dry-run] [-h|--help]

Creates the EKS cluster of eksctl/cluster.yaml if it does not exist, installs or updates what is EKS's
or Datadog's: the gp3 StorageClass and the Datadog Operator, Secret and Agent (datadog/), then runs
scripts/install.sh, the deploy path of every cluster, for the rest: the Dapr control plane (Helm;
no Dapr CLI needed) and dashboard, the Dapr API token Secrets and the app with your images. About
25 minutes the first time, 4 again.

Required environment:
  DATADOG_API_KEY  your Datadog API key: only into the Secret datadog-secret, never printed
  IMAGE_REGISTRY   where scripts/build-images.sh pushed the images, e.g. ghcr.io/you
  IMAGE_TAG        the tag it pushed, e.g. 0.1.0 (also Datadog's version label)
scripts/install.sh's optional settings (see its --help) are passed on. AWS credentials come from the
AWS CLI's usual sources; kubectl's context is set to the cluster.

Options:
  --dry-run   print every command, API key masked, without running any (needs no cloud access)
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
# Preflight: everything is checked before anything is changed, scripts/install.sh's inputs included.
load_versions
need_version DAPR_RUNTIME_VERSION DATADOG_OPERATOR_CHART_VERSION DAPR_DASHBOARD_CHART_VERSION
need_tools aws eksctl kubectl helm
need_env DATADOG_API_KEY "export your Datadog API key (Organization Settings > API Keys)"
register_secret "$DATADOG_API_KEY"
[[ "$DATADOG_API_KEY" =~ ^[0-9a-f]{32}$ ]] ||
  warn "DATADOG_API_KEY is not 32 hexadecimal characters: an application key will not work"
cd "$REPO_ROOT"
need_image_env
need_install_options

CLUSTER_FILE=eksctl/cluster.yaml
AGENT_FILE=datadog/datadog-agent.yaml
for f in "$CLUSTER_FILE" "$AGENT_FILE" kubernetes/storage/gp3-storageclass.yaml; do
  [[ -f "$f" ]] || die "$f not found: run this from a complete checkout of the repository"
done

CLUSTER_NAME=$(yaml_metadata "$CLUSTER_FILE" name)
AWS_REGION_OF_CLUSTER=$(yaml_metadata "$CLUSTER_FILE" region)
DATADOG_NS=$(yaml_metadata "$AGENT_FILE" namespace)
# The Operator names the node Agent's DaemonSet after the DatadogAgent: <name>-agent.
AGENT_DAEMONSET="$(yaml_metadata "$AGENT_FILE" name)-agent"
[[ -n "$CLUSTER_NAME" && -n "$AWS_REGION_OF_CLUSTER" && -n "$DATADOG_NS" && "$AGENT_DAEMONSET" != -agent ]] ||
  die "cannot read metadata.name/region of $CLUSTER_FILE or metadata.name/namespace of $AGENT_FILE"

on_failure_hint() { echo "Resources already created keep costing money: scripts/delete-all.sh removes them all."; }

gp2_is_default() { [[ "$(kubectl get storageclass gp2 --ignore-not-found \
  -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" == true ]]; }

# Secrets go through a pipe: never on a command line, on disk or in the output.
create_api_key_secret() {
  printf '%s' "$DATADOG_API_KEY" | kubectl create secret generic datadog-secret --namespace "$DATADOG_NS" \
    --from-file=api-key=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -
}

steps_total 6
is_dry_run && echo "# Dry run: nothing is changed; every command is printed as it would run."

step "EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER" "15-20 min to create, seconds if it exists"
if is_dry_run; then
  note "only if 'aws eks describe-cluster' finds none (while it is CREATING: aws eks wait cluster-active)"
  status=NONE
else
  status=$(cluster_status)
fi
case "$status" in
  NONE) run eksctl create cluster -f "$CLUSTER_FILE" ;;
  ACTIVE) info "cluster exists: not recreated (eksctl upgrade cluster -f $CLUSTER_FILE changes it)" ;;
  CREATING | UPDATING) run aws eks wait cluster-active --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER" ;;
  *) die "cluster $CLUSTER_NAME is $status; wait for it, or remove it with scripts/delete-all.sh" ;;
esac
run aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER"

step "Storage: gp3 as the default StorageClass (the Dapr scheduler needs volumes)" "seconds"
run kubectl apply -f kubernetes/storage/gp3-storageclass.yaml
if when "gp2 is the default StorageClass (clusters made before Kubernetes 1.30)" gp2_is_default; then
  run kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite
fi

step "Datadog Operator (Helm chart $DATADOG_OPERATOR_CHART_VERSION)" "1-2 min"
run helm upgrade --install datadog-operator datadog-operator --repo https://helm.datadoghq.com \
  --version "$DATADOG_OPERATOR_CHART_VERSION" --namespace "$DATADOG_NS" --create-namespace --wait --timeout 5m

step "Secret datadog-secret (api-key) from \$DATADOG_API_KEY" "seconds"
run_shown "printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret --namespace $DATADOG_NS --from-file=api-key=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -" \
  create_api_key_secret

step "Datadog Agent ($AGENT_FILE)" "2-4 min"
run kubectl apply -f "$AGENT_FILE"
# The Operator makes the DaemonSet a moment later, and rollout status fails on one not there yet.
run kubectl wait --for=create "daemonset/$AGENT_DAEMONSET" -n "$DATADOG_NS" --timeout=300s
run kubectl rollout status "daemonset/$AGENT_DAEMONSET" -n "$DATADOG_NS" --timeout=300s

step "Dapr, the token Secrets and the app: scripts/install.sh, the steps below" "5-9 min"
DRY_RUN=$DRY_RUN "$SCRIPTS_DIR/install.sh" # a dry run too, when this is one
steps_finished

is_dry_run || log "Datadog APM > Services (comms, greeter); scripts/delete-all.sh when done: the cluster bills by the hour."
