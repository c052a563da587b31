#!/usr/bin/env bash
# Deploys the demo to EKS, from the cluster to the apps. Every step looks first and does only what is
# missing, so a re-run is safe: it brings the cluster back to what this repository describes.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [--dry-run] [-h|--help]

Creates the EKS cluster of eksctl/cluster.yaml if it does not exist, then installs or updates: the
gp3 StorageClass, the Datadog Operator, Secret and Agent (datadog/), the Dapr control plane (values:
kubernetes/dapr-helm-values.txt) and dashboard, the Dapr API token Secrets (random, made once, never
printed) and the app (kubernetes/) with your images. About 25 minutes the first time, 4 again.

Required environment:
  DATADOG_API_KEY  your Datadog API key: only into the Secret datadog-secret, never printed
  IMAGE_REGISTRY   where scripts/build-images.sh pushed the images, e.g. ghcr.io/you
  IMAGE_TAG        the tag it pushed, e.g. 0.1.0 (also Datadog's version label)
AWS credentials come from the AWS CLI's usual sources; kubectl's context is set to the cluster.

Options:
  --dry-run   print every command, API key masked, without running any (needs no cloud access)
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
# Preflight: everything is checked before anything is changed.
load_versions
need_version DAPR_RUNTIME_VERSION DATADOG_OPERATOR_CHART_VERSION DAPR_DASHBOARD_CHART_VERSION
need_tools aws eksctl kubectl helm dapr
need_env DATADOG_API_KEY "export your Datadog API key (Organization Settings > API Keys)"
register_secret "$DATADOG_API_KEY"
[[ "$DATADOG_API_KEY" =~ ^[0-9a-f]{32}$ ]] ||
  warn "DATADOG_API_KEY is not 32 hexadecimal characters: an application key will not work"
need_env IMAGE_REGISTRY "where scripts/build-images.sh pushed the images, e.g. ghcr.io/you"
need_env IMAGE_TAG "the tag you pushed with scripts/build-images.sh, e.g. 0.1.0"
[[ "$IMAGE_REGISTRY" =~ ^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$ && "$IMAGE_REGISTRY" != *://* ]] ||
  die "IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme, e.g. ghcr.io/you, got: $IMAGE_REGISTRY"
need_image_tag IMAGE_TAG

cd "$REPO_ROOT"
CLUSTER_FILE=eksctl/cluster.yaml
AGENT_FILE=datadog/datadog-agent.yaml
VALUES_FILE=kubernetes/dapr-helm-values.txt
DAPR_NS=dapr-system
APP_NS=dapr-services
for f in "$CLUSTER_FILE" "$AGENT_FILE" kubernetes/kustomization.yaml kubernetes/storage/gp3-storageclass.yaml "$VALUES_FILE"; do
  [[ -f "$f" ]] || die "$f not found: run this from a complete checkout of the repository"
done

# Every value as --set, to init and upgrade alike: `dapr upgrade -k` resets what it is not given.
dapr_set=()
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
  [[ "$line" =~ ^[A-Za-z0-9_.]+=[^[:space:],]+$ ]] || die "$VALUES_FILE: not one key=value Helm value: $line"
  dapr_set+=(--set "$line")
done <"$VALUES_FILE"

CLUSTER_NAME=$(yaml_metadata "$CLUSTER_FILE" name)
AWS_REGION_OF_CLUSTER=$(yaml_metadata "$CLUSTER_FILE" region)
DATADOG_NS=$(yaml_metadata "$AGENT_FILE" namespace)
# The Operator names the node Agent's DaemonSet after the DatadogAgent: <name>-agent.
AGENT_DAEMONSET="$(yaml_metadata "$AGENT_FILE" name)-agent"
[[ -n "$CLUSTER_NAME" && -n "$AWS_REGION_OF_CLUSTER" && -n "$DATADOG_NS" && "$AGENT_DAEMONSET" != -agent ]] ||
  die "cannot read metadata.name/region of $CLUSTER_FILE or metadata.name/namespace of $AGENT_FILE"

on_failure_hint() { echo "Resources already created keep costing money: scripts/delete-all.sh removes them all."; }

missing() { ! kubectl get "$@" >/dev/null 2>&1; }
gp2_is_default() { [[ "$(kubectl get storageclass gp2 --ignore-not-found \
  -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" == true ]]; }
# It changes when an upgrade changes the injector, whose new sidecar the running pods then lack.
injector_generation() { kubectl get deployment dapr-sidecar-injector -n "$DAPR_NS" -o jsonpath='{.metadata.generation}' 2>/dev/null || true; }

# Secrets go through a pipe: never on a command line, on disk or in the output.
create_api_key_secret() {
  printf '%s' "$DATADOG_API_KEY" | kubectl create secret generic datadog-secret --namespace "$DATADOG_NS" \
    --from-file=api-key=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -
}
create_token_secret() { # NAME : key token, 32 random bytes in hex
  local token
  token=$(random_hex 32)
  register_secret "$token"
  printf '%s' "$token" | kubectl create secret generic "$1" --namespace "$APP_NS" --from-file=token=/dev/stdin
}

steps_total 10
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

step "Dapr control plane $DAPR_RUNTIME_VERSION" "2-4 min"
current="" restart_apps=0
is_dry_run || current=$(kubectl get deployment dapr-operator -n "$DAPR_NS" \
  -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null || true)
current=${current##*:}
if [[ -z "$current" ]]; then
  is_dry_run && note "only if Dapr is not installed; else 'dapr upgrade -k' with the same values, and the apps restart if the sidecar injector changed:"
  run dapr init -k --runtime-version "$DAPR_RUNTIME_VERSION" "${dapr_set[@]}" --wait --timeout 600
else
  info "Dapr $current is installed: upgrading to $DAPR_RUNTIME_VERSION with the values of $VALUES_FILE"
  injector_before=$(injector_generation)
  run dapr upgrade -k --runtime-version "$DAPR_RUNTIME_VERSION" "${dapr_set[@]}" --timeout 600
  run kubectl wait pods --all --for=condition=Ready -n "$DAPR_NS" --timeout=600s
  [[ "$current" == "$DAPR_RUNTIME_VERSION" && "$(injector_generation)" == "$injector_before" ]] || restart_apps=1
fi
run dapr status -k

# The release and chart Dapr CLI 1.17's `dapr init -k` installed (1.18 dropped the dashboard), upgraded in place.
step "Dapr dashboard (Helm chart $DAPR_DASHBOARD_CHART_VERSION, the last: dapr/dashboard is archived)" "1 min"
run helm upgrade --install dapr-dashboard dapr-dashboard --repo https://dapr.github.io/helm-charts \
  --version "$DAPR_DASHBOARD_CHART_VERSION" --namespace "$DAPR_NS" --wait --timeout 5m

step "Namespace $APP_NS and the Secrets of the Dapr API tokens" "seconds"
# Under target/, so that it reaches kubernetes/ by a fixed relative path (kustomize refuses absolute ones).
overlay=""
mkdir -p target
TMPDIR="$REPO_ROOT/target" make_temp_dir overlay
cat >"$overlay/kustomization.yaml" <<EOF
# Generated by scripts/deploy.sh: the kubernetes/ base with the images you pushed.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../kubernetes
images:
  - name: comms-service
    newName: $IMAGE_REGISTRY/comms-service
    newTag: "$IMAGE_TAG"
  - name: greeter-service
    newName: $IMAGE_REGISTRY/greeter-service
    newTag: "$IMAGE_TAG"
# Datadog's version tag (tags.datadoghq.com/version, read by DD_VERSION) follows the image tag.
labels:
  - pairs:
      tags.datadoghq.com/version: "$IMAGE_TAG"
    includeTemplates: true
EOF
note "temporary overlay $overlay/kustomization.yaml (removed on exit):"
is_dry_run && sed 's/^/  #   /' "$overlay/kustomization.yaml"
note "the namespace alone first: the Secrets go into it, and the pods need them"
run kubectl apply -k "$overlay" --selector "app.kubernetes.io/name=$APP_NS"
# The Secrets the pods' dapr.io/api-token-secret and dapr.io/app-token-secret name.
for s in dapr-api-token app-api-token; do
  if when "secret $s is missing (a token, once made, is kept)" missing secret "$s" --namespace "$APP_NS"; then
    run_shown "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n' | kubectl create secret generic $s --namespace $APP_NS --from-file=token=/dev/stdin" \
      create_token_secret "$s"
  fi
done

step "App: kubernetes/ with images $IMAGE_REGISTRY/{comms,greeter}-service:$IMAGE_TAG" "1 min"
run kubectl apply -k "$overlay"
if ((restart_apps)); then
  info "the sidecar injector changed: restarting the apps to get the new sidecar"
  run kubectl rollout restart deployment/comms deployment/greeter -n "$APP_NS"
fi

step "Wait for comms and greeter to be ready" "1-3 min"
for d in comms greeter; do run kubectl rollout status "deployment/$d" -n "$APP_NS" --timeout=300s; done
steps_finished

is_dry_run || log "deployed. Next: kubectl port-forward -n $APP_NS svc/comms-service 8080:80, then curl or scripts/load.sh;
    the Dapr dashboard: kubectl port-forward -n $DAPR_NS svc/dapr-dashboard 9999:8080;
    Datadog APM > Services (comms, greeter); scripts/delete-all.sh when done: the cluster bills by the hour."
