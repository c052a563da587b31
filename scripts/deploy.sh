#!/usr/bin/env bash
# Deploys the demo to EKS: cluster -> storage -> Datadog Operator -> API key Secret -> Datadog Agent
# -> Dapr control plane -> Dapr dashboard -> namespace and Dapr token Secrets -> comms and greeter.
# Every step checks what is there first, so running it again does no harm (it brings the cluster
# back to what this repository describes).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh [--dry-run] [-h|--help]

Creates the EKS cluster of eksctl/cluster.yaml if it does not exist, then installs or updates, in
order: the default gp3 StorageClass, the Datadog Operator (Helm), the Secret datadog-secret, the
Datadog Agent (datadog/datadog-agent.yaml), the Dapr control plane (with the Helm values of
kubernetes/dapr-helm-values.txt), the Dapr dashboard (Helm, its last release), the namespace
dapr-services with the Secrets of the Dapr API tokens (random, made once and kept, never printed),
and the app (kubernetes/) with the images you pushed with scripts/build-images.sh. A first run
takes about 25 minutes, a re-run about 4; each step prints how long it typically takes.

Required environment:
  DATADOG_API_KEY  your Datadog API key; it goes only into the cluster Secret datadog-secret
                   (never printed, never written to disk)
  IMAGE_REGISTRY   where scripts/build-images.sh pushed the images, e.g. ghcr.io/you or
                   123456789012.dkr.ecr.us-west-2.amazonaws.com
  IMAGE_TAG        the tag you pushed, e.g. 0.1.0 (also Datadog's version tag, a label value)

AWS credentials come from the usual AWS CLI sources (AWS_PROFILE, SSO, environment). kubectl's
current context is switched to the cluster (aws eks update-kubeconfig).

Options:
  --dry-run   print every command, API key masked, without running any (needs no cloud access)
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"

# ---- Preflight: everything is checked before anything is changed. ------------------------------
load_versions
need_version DAPR_RUNTIME_VERSION DATADOG_OPERATOR_CHART_VERSION DAPR_DASHBOARD_CHART_VERSION
need_tools aws eksctl kubectl helm dapr
need_env DATADOG_API_KEY "export your Datadog API key (Organization Settings > API Keys)"
register_secret "$DATADOG_API_KEY"
[[ "$DATADOG_API_KEY" =~ ^[0-9a-f]{32}$ ]] ||
  warn "DATADOG_API_KEY does not look like a Datadog API key (32 hexadecimal characters; an application key will not work)"
need_env IMAGE_REGISTRY "where scripts/build-images.sh pushed the images, e.g. ghcr.io/you"
need_env IMAGE_TAG "the tag you pushed with scripts/build-images.sh, e.g. 0.1.0"
[[ "$IMAGE_REGISTRY" =~ ^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$ && "$IMAGE_REGISTRY" != *://* ]] ||
  die "IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme, e.g. ghcr.io/you (got: $IMAGE_REGISTRY)"
need_image_tag IMAGE_TAG

CLUSTER_FILE=eksctl/cluster.yaml
AGENT_FILE=datadog/datadog-agent.yaml
APP_DIR=kubernetes
STORAGE_CLASS_FILE=$APP_DIR/storage/gp3-storageclass.yaml
DAPR_VALUES_FILE=$APP_DIR/dapr-helm-values.txt
APP_NAMESPACE=dapr-services
# What the pods' dapr.io/api-token-secret and dapr.io/app-token-secret name (key: token).
TOKEN_SECRETS=(dapr-api-token app-api-token)
APP_DEPLOYMENTS=(comms greeter)
APP_IMAGES=(comms-service greeter-service)
DAPR_NAMESPACE=dapr-system
OPERATOR_RELEASE=datadog-operator
OPERATOR_CHART=datadog/datadog-operator
DATADOG_HELM_REPO=https://helm.datadoghq.com
# The release, chart and repository Dapr CLI 1.17 used (its `dapr init -k`); CLI 1.18 dropped the dashboard.
DASHBOARD_RELEASE=dapr-dashboard
DASHBOARD_CHART=dapr/dapr-dashboard
DAPR_HELM_REPO=https://dapr.github.io/helm-charts

cd "$REPO_ROOT"
for f in "$CLUSTER_FILE" "$AGENT_FILE" "$APP_DIR/kustomization.yaml" "$STORAGE_CLASS_FILE" "$DAPR_VALUES_FILE"; do
  [[ -f "$f" ]] || die "$f not found: run this from a complete checkout of the repository"
done

# --set KEY=VALUE for each line of the values file (comments and blank lines skipped).
dapr_set=()
while IFS= read -r line || [[ -n "$line" ]]; do
  [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
  [[ "$line" =~ ^[A-Za-z0-9_.]+=[^[:space:],]+$ ]] || die "$DAPR_VALUES_FILE: not one key=value Helm value: $line"
  dapr_set+=(--set "$line")
done <"$DAPR_VALUES_FILE"

CLUSTER_NAME=$(yaml_metadata "$CLUSTER_FILE" name)
AWS_REGION_OF_CLUSTER=$(yaml_metadata "$CLUSTER_FILE" region)
AGENT_NAME=$(yaml_metadata "$AGENT_FILE" name)
DATADOG_NAMESPACE=$(yaml_metadata "$AGENT_FILE" namespace)
[[ -n "$CLUSTER_NAME" && -n "$AWS_REGION_OF_CLUSTER" ]] || die "cannot read metadata.name/region from $CLUSTER_FILE"
[[ -n "$AGENT_NAME" && -n "$DATADOG_NAMESPACE" ]] || die "cannot read metadata.name/namespace from $AGENT_FILE"
# The Operator names the node Agent DaemonSet <DatadogAgent name>-agent.
AGENT_DAEMONSET="${AGENT_NAME}-agent"

if ! is_dry_run; then
  aws sts get-caller-identity --query Account --output text >/dev/null ||
    die "AWS credentials do not work (aws sts get-caller-identity failed): log in first, e.g. aws sso login"
fi

on_failure_hint() {
  echo "Resources already created keep costing money: scripts/delete-all.sh removes them all."
}

# ---- Helpers that only read the current state (never called in a dry run). ----------------------

# Prints the Dapr control plane version installed in the cluster, or nothing.
installed_dapr_version() {
  local image
  image=$(kubectl get deployment dapr-operator -n "$DAPR_NAMESPACE" \
    -o jsonpath='{.spec.template.spec.containers[0].image}' 2>/dev/null) || true
  [[ -n "$image" ]] && printf '%s' "${image##*:}"
  return 0
}

# The generation of the sidecar injector's Deployment: it changes when an upgrade changes the injector.
injector_generation() {
  kubectl get deployment dapr-sidecar-injector -n "$DAPR_NAMESPACE" -o jsonpath='{.metadata.generation}' 2>/dev/null || true
}

# create_token_secret NAME : Secret NAME with key token, 32 random bytes from the kernel in hex,
# through a pipe: never on a command line, on disk or in the output.
create_token_secret() {
  local token
  token=$(random_hex 32)
  register_secret "$token"
  printf '%s' "$token" | kubectl create secret generic "$1" --namespace "$APP_NAMESPACE" --from-file=token=/dev/stdin
}

create_api_key_secret() {
  printf '%s' "$DATADOG_API_KEY" |
    kubectl create secret generic datadog-secret --namespace "$DATADOG_NAMESPACE" \
      --from-file=api-key=/dev/stdin --dry-run=client -o yaml |
    kubectl apply -f -
}

wait_for_agent_daemonset() {
  local deadline=$((SECONDS + 300))
  until kubectl get daemonset "$AGENT_DAEMONSET" -n "$DATADOG_NAMESPACE" >/dev/null 2>&1; do
    ((SECONDS < deadline)) ||
      die "the Datadog Operator has not created daemonset/$AGENT_DAEMONSET in 5 minutes: kubectl -n $DATADOG_NAMESPACE describe datadogagent $AGENT_NAME"
    sleep 5
  done
}

write_overlay() {
  local dir=$1 i
  {
    echo "# Generated by scripts/deploy.sh: the kubernetes/ base with the images you pushed."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    echo "  - $(relative_path "$dir" "$REPO_ROOT/$APP_DIR")"
    echo "images:"
    for i in "${APP_IMAGES[@]}"; do
      echo "  - name: $i"
      echo "    newName: $IMAGE_REGISTRY/$i"
      echo "    newTag: \"$IMAGE_TAG\""
    done
    echo "# Datadog's version tag (tags.datadoghq.com/version, read by DD_VERSION) follows the image tag."
    echo "labels:"
    echo "  - pairs:"
    echo "      tags.datadoghq.com/version: \"$IMAGE_TAG\""
    echo "    includeTemplates: true"
  } >"$dir/kustomization.yaml"
}

# ---- The steps. -----------------------------------------------------------------------------------
steps_total 10
is_dry_run && printf '# Dry run: nothing is changed; every command is printed as it would run.\n'

step "EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER" "15-20 min to create, seconds if it exists"
if is_dry_run; then
  note "only if 'aws eks describe-cluster --name $CLUSTER_NAME --region $AWS_REGION_OF_CLUSTER' finds none"
  run eksctl create cluster -f "$CLUSTER_FILE"
else
  status=$(cluster_status)
  case "$status" in
    NONE) run eksctl create cluster -f "$CLUSTER_FILE" ;;
    ACTIVE)
      info "cluster exists: not recreated. To change it, use eksctl (e.g. eksctl upgrade cluster -f $CLUSTER_FILE)."
      ;;
    CREATING | UPDATING)
      info "cluster is $status: waiting until it is ACTIVE"
      run aws eks wait cluster-active --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER"
      ;;
    *) die "cluster $CLUSTER_NAME is $status; wait for it, or remove it with scripts/delete-all.sh" ;;
  esac
fi
run aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER"

step "Storage: gp3 as the default StorageClass (the Dapr scheduler needs volumes)" "seconds"
run kubectl apply -f "$STORAGE_CLASS_FILE"
if is_dry_run; then
  note "only if gp2 is marked default (clusters made before Kubernetes 1.30 on EKS):"
  run kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite
elif [[ "$(kubectl get storageclass gp2 --ignore-not-found \
  -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" == true ]]; then
  run kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite
else
  info "gp2 is not the default StorageClass: nothing to change"
fi

step "Datadog Operator (Helm chart $DATADOG_OPERATOR_CHART_VERSION)" "1-2 min"
run helm repo add datadog "$DATADOG_HELM_REPO" --force-update
run helm upgrade --install "$OPERATOR_RELEASE" "$OPERATOR_CHART" --version "$DATADOG_OPERATOR_CHART_VERSION" \
  --namespace "$DATADOG_NAMESPACE" --create-namespace --wait --timeout 5m

step "Secret datadog-secret (api-key) from \$DATADOG_API_KEY" "seconds"
run_shown "printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret --namespace $DATADOG_NAMESPACE --from-file=api-key=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -" \
  create_api_key_secret

step "Datadog Agent ($AGENT_FILE)" "2-4 min"
run kubectl apply -f "$AGENT_FILE"
if is_dry_run; then
  note "waits up to 5 min for the Operator to create daemonset/$AGENT_DAEMONSET, then:"
else
  wait_for_agent_daemonset
fi
run kubectl rollout status "daemonset/$AGENT_DAEMONSET" -n "$DATADOG_NAMESPACE" --timeout=300s

step "Dapr control plane $DAPR_RUNTIME_VERSION" "2-4 min"
restart_apps=0
if is_dry_run; then
  note "only if Dapr is not installed; if it is, 'dapr upgrade -k' to the same values instead (it resets what it is not given),"
  note "and the apps restart if that changed the version or the sidecar injector:"
  run dapr init -k --runtime-version "$DAPR_RUNTIME_VERSION" "${dapr_set[@]}" --wait --timeout 600
else
  current=$(installed_dapr_version)
  if [[ -z "$current" ]]; then
    run dapr init -k --runtime-version "$DAPR_RUNTIME_VERSION" "${dapr_set[@]}" --wait --timeout 600
  else
    info "Dapr $current is installed: upgrading to $DAPR_RUNTIME_VERSION with the values of $DAPR_VALUES_FILE"
    injector_before=$(injector_generation)
    run dapr upgrade -k --runtime-version "$DAPR_RUNTIME_VERSION" "${dapr_set[@]}" --timeout 600
    run kubectl wait pods --all --for=condition=Ready -n "$DAPR_NAMESPACE" --timeout=600s
    if [[ "$current" != "$DAPR_RUNTIME_VERSION" || "$(injector_generation)" != "$injector_before" ]]; then
      restart_apps=1
    fi
  fi
fi
run dapr status -k

step "Dapr dashboard (Helm chart $DAPR_DASHBOARD_CHART_VERSION, the last release: dapr/dashboard is archived)" "1 min"
run helm repo add dapr "$DAPR_HELM_REPO" --force-update
run helm upgrade --install "$DASHBOARD_RELEASE" "$DASHBOARD_CHART" --version "$DAPR_DASHBOARD_CHART_VERSION" \
  --namespace "$DAPR_NAMESPACE" --wait --timeout 5m

step "Namespace $APP_NAMESPACE and the Secrets of the Dapr tokens (${TOKEN_SECRETS[*]})" "seconds"
overlay_dir=""
make_temp_dir overlay_dir
write_overlay "$overlay_dir"
note "temporary overlay $overlay_dir/kustomization.yaml (removed on exit):"
if is_dry_run; then
  sed 's/^/  #   /' "$overlay_dir/kustomization.yaml"
fi
note "the namespace alone first: the Secrets go into it, and the pods need them"
run kubectl apply -k "$overlay_dir" --selector "app.kubernetes.io/name=$APP_NAMESPACE"
for s in "${TOKEN_SECRETS[@]}"; do
  if is_dry_run; then
    note "only if secret $s does not exist yet (an existing token is kept):"
  elif kubectl get secret "$s" --namespace "$APP_NAMESPACE" >/dev/null 2>&1; then
    info "secret $s exists: kept"
    continue
  fi
  run_shown "od -An -N32 -tx1 /dev/urandom | tr -d ' \\n' | kubectl create secret generic $s --namespace $APP_NAMESPACE --from-file=token=/dev/stdin" \
    create_token_secret "$s"
done

step "App: $APP_DIR/ with images $IMAGE_REGISTRY/{${APP_IMAGES[*]}}:$IMAGE_TAG" "1 min"
run kubectl apply -k "$overlay_dir"
if ((restart_apps)); then
  info "the sidecar injector changed (Dapr's version or values): restarting the apps to get the new sidecar"
  run kubectl rollout restart "${APP_DEPLOYMENTS[@]/#/deployment/}" -n "$APP_NAMESPACE"
fi

step "Wait for comms and greeter to be ready" "1-3 min"
for d in "${APP_DEPLOYMENTS[@]}"; do
  run kubectl rollout status "deployment/$d" -n "$APP_NAMESPACE" --timeout=300s
done
steps_finished

if is_dry_run; then
  printf '\n# Dry run complete: nothing was changed.\n'
  exit 0
fi
cat <<EOF

Deployed. Next:
  scripts/port-forward.sh        # comms on localhost:8080 (LOCAL_PORT to change)
  curl -X POST localhost:8080/greet -H 'Content-Type: application/json' -d '{"name":"Ada"}'
  scripts/load.sh -n 100 -c 10   # load, with a latency summary
  scripts/dashboard.sh           # Dapr dashboard on 127.0.0.1:9999
  Datadog: APM > Services (comms, greeter), APM > Traces
  scripts/delete-all.sh          # when done: the cluster costs money every hour
EOF
