#!/usr/bin/env bash
# Tears down everything scripts/deploy.sh made, in reverse order, so nothing is left billing:
# app -> Dapr dashboard and control plane -> Datadog (Agent, Operator, Secret) -> volumes and
# StorageClass -> EKS cluster -> its CloudWatch log group. Each step skips what is already gone, so an
# interrupted teardown is finished by running it again.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/delete-all.sh [--yes] [--dry-run] [-h|--help]

Deletes, in order: the app (kubernetes/base/, with its namespace and so the Secrets of the Dapr
tokens in it), the Dapr dashboard and control plane, the Datadog Agent, Operator and Secret, the
Dapr scheduler's volumes (so no EBS volume outlives the cluster) and the gp3 StorageClass, then the
EKS cluster of eksctl/cluster.yaml and the CloudWatch log group of its control plane logs (eksctl
leaves it). About 15 minutes, most of it eksctl deleting the cluster.

Options:
  --yes       do not ask for confirmation (needed when there is no terminal, e.g. in CI)
  --dry-run   print every command without running any (needs no cloud access)
  -h, --help  show this help
EOF
}

while (($#)); do
  case "$1" in
    --yes | -y) ASSUME_YES=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
  shift
done

need_tools aws eksctl kubectl helm dapr

CLUSTER_FILE=eksctl/cluster.yaml
AGENT_FILE=datadog/datadog-agent.yaml
APP_DIR=kubernetes
# The app without the StorageClass: that goes last, after the volumes it provisioned.
APP_BASE_DIR=$APP_DIR/base
APP_NAMESPACE=dapr-services
STORAGE_CLASS_FILE=$APP_DIR/storage/gp3-storageclass.yaml
DAPR_NAMESPACE=dapr-system
OPERATOR_RELEASE=datadog-operator
DASHBOARD_RELEASE=dapr-dashboard

cd "$REPO_ROOT"
for f in "$CLUSTER_FILE" "$AGENT_FILE" "$APP_BASE_DIR/kustomization.yaml" "$STORAGE_CLASS_FILE"; do
  [[ -f "$f" ]] || die "$f not found: run this from a complete checkout of the repository"
done

CLUSTER_NAME=$(yaml_metadata "$CLUSTER_FILE" name)
AWS_REGION_OF_CLUSTER=$(yaml_metadata "$CLUSTER_FILE" region)
DATADOG_NAMESPACE=$(yaml_metadata "$AGENT_FILE" namespace)
[[ -n "$CLUSTER_NAME" && -n "$AWS_REGION_OF_CLUSTER" ]] || die "cannot read metadata.name/region from $CLUSTER_FILE"
# Where EKS writes the control plane logs that cloudWatch.clusterLogging of the cluster file enables.
LOG_GROUP="/aws/eks/$CLUSTER_NAME/cluster"
[[ -n "$DATADOG_NAMESPACE" ]] || die "cannot read metadata.namespace from $AGENT_FILE"
[[ "$DATADOG_NAMESPACE" != default && "$DATADOG_NAMESPACE" != kube-* ]] ||
  die "$AGENT_FILE is in namespace $DATADOG_NAMESPACE, which this script will not delete: give the Agent its own namespace"

if is_dry_run; then
  printf '# Dry run: nothing is deleted; every command is printed as it would run.\n'
else
  confirm "Delete EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER and everything deployed on it?" ||
    die "nothing deleted"
  aws sts get-caller-identity --query Account --output text >/dev/null ||
    die "AWS credentials do not work (aws sts get-caller-identity failed): log in first, e.g. aws sso login"
fi

on_failure_hint() {
  echo "Cluster $CLUSTER_NAME ($AWS_REGION_OF_CLUSTER) may still exist and cost money: check with"
  echo "  aws eks describe-cluster --name $CLUSTER_NAME --region $AWS_REGION_OF_CLUSTER"
}

# Deletes the scheduler's claims and waits until their volumes (EBS, reclaim policy Delete) are gone,
# which must happen while the cluster's CSI driver still runs, or the volumes outlive the cluster.
delete_dapr_volumes() {
  local pvs pv
  pvs=$(kubectl get pvc -n "$DAPR_NAMESPACE" --ignore-not-found \
    -o jsonpath='{range .items[*]}{.spec.volumeName}{"\n"}{end}')
  kubectl delete pvc --all -n "$DAPR_NAMESPACE" --ignore-not-found --wait=true
  for pv in $pvs; do
    if ! kubectl wait --for=delete "pv/$pv" --timeout=300s >/dev/null 2>&1 &&
      kubectl get "pv/$pv" >/dev/null 2>&1; then
      die "volume $pv is still there after 5 minutes: kubectl describe pv $pv"
    fi
  done
}

# exists ARGS... : true when 'kubectl get ARGS' finds the object. Only called outside a dry run.
exists() { kubectl get "$@" >/dev/null 2>&1; }

# With Dapr's Helm release gone (e.g. on a re-run) `dapr uninstall -k` has nothing to do: it only warns.
dapr_installed() { helm status dapr --namespace "$DAPR_NAMESPACE" >/dev/null 2>&1; }

# eksctl deletes the cluster but not its log group: deleted here, unless already gone.
delete_log_group() {
  local out
  out=$(aws logs delete-log-group --log-group-name "$LOG_GROUP" --region "$AWS_REGION_OF_CLUSTER" 2>&1) && return 0
  [[ "$out" == *ResourceNotFoundException* ]] || die "cannot delete log group $LOG_GROUP: $out"
  info "skipped: log group $LOG_GROUP does not exist (already deleted)"
}

# guarded "WHY" TEST... : in a dry run, notes when the next command runs; otherwise runs TEST.
# Deleting objects whose CRD is already gone fails, so a re-run skips what an earlier run removed.
guarded() {
  local why=$1
  shift
  if is_dry_run; then
    note "only if $why"
    return 0
  fi
  "$@" && return 0
  info "skipped: $why is not the case (already deleted)"
  return 1
}

steps_total 6
status=ACTIVE
if ! is_dry_run; then
  status=$(cluster_status)
fi
is_dry_run && note "steps 1-4 run only if the cluster is ACTIVE, step 5 only if it exists (aws eks describe-cluster)"
case "$status" in
  ACTIVE)
    run aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER"
    ;;
  NONE)
    log "cluster $CLUSTER_NAME does not exist in $AWS_REGION_OF_CLUSTER: only its log group may be left"
    ;;
  *)
    warn "cluster is $status: skipping the in-cluster steps, deleting the cluster itself"
    ;;
esac

if [[ "$status" == ACTIVE ]]; then
  step "App ($APP_BASE_DIR/)" "1 min"
  if guarded "namespace $APP_NAMESPACE exists" exists namespace "$APP_NAMESPACE"; then
    run kubectl delete -k "$APP_BASE_DIR" --ignore-not-found --wait=true
  fi

  step "Dapr dashboard and control plane" "1 min"
  note "the dashboard is a Helm release of its own: Dapr CLI 1.18's uninstall no longer removes it"
  run helm uninstall "$DASHBOARD_RELEASE" --namespace "$DAPR_NAMESPACE" --ignore-not-found --wait
  if guarded "Dapr's Helm release exists (helm status dapr)" dapr_installed; then
    run dapr uninstall -k --all
    # The CLI prints its errors but exits 0: the release must be gone now.
    is_dry_run || ! dapr_installed || die "Dapr's Helm release is still installed after dapr uninstall -k (see its output above)"
  fi

  step "Datadog Agent, Operator and Secret" "1-2 min"
  note "the Agent first, while the Operator still runs to clean up after it"
  if guarded "the DatadogAgent CRD exists" exists crd datadogagents.datadoghq.com; then
    run kubectl delete -f "$AGENT_FILE" --ignore-not-found --wait=true
  fi
  run helm uninstall "$OPERATOR_RELEASE" --namespace "$DATADOG_NAMESPACE" --ignore-not-found --wait
  run kubectl delete secret datadog-secret --namespace "$DATADOG_NAMESPACE" --ignore-not-found
  run kubectl delete namespace "$DATADOG_NAMESPACE" --ignore-not-found --wait=true

  step "Volumes and StorageClass" "1-2 min"
  run_shown "kubectl delete pvc --all -n $DAPR_NAMESPACE --ignore-not-found --wait=true  # then waits until their EBS volumes are deleted" \
    delete_dapr_volumes
  run kubectl delete namespace "$DAPR_NAMESPACE" --ignore-not-found --wait=true
  run kubectl delete -f "$STORAGE_CLASS_FILE" --ignore-not-found
fi

if [[ "$status" != NONE ]]; then
  step "EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER" "10-15 min"
  run eksctl delete cluster -f "$CLUSTER_FILE" --wait --disable-nodegroup-eviction
fi

step "CloudWatch log group $LOG_GROUP" "seconds"
is_dry_run && note "skipped if it does not exist"
run_shown "aws logs delete-log-group --log-group-name $LOG_GROUP --region $AWS_REGION_OF_CLUSTER" delete_log_group
steps_finished

if is_dry_run; then
  printf '\n# Dry run complete: nothing was deleted.\n'
else
  log "everything is deleted"
fi
