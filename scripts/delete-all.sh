#!/usr/bin/env bash
# Tears down everything scripts/deploy.sh made, in reverse order, so nothing is left billing. Each
# step skips what is already gone, so running it again finishes an interrupted teardown.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/delete-all.sh [--yes] [--dry-run] [-h|--help]

Deletes, in order: what scripts/install.sh made, with scripts/install.sh --uninstall (the app with its
namespace and token Secrets, the Dapr dashboard, the Dapr control plane with its volumes, waiting
until their EBS volumes are gone, and CRDs), the Datadog Agent, Operator and Secret, the gp3
StorageClass, the EKS cluster of eksctl/cluster.yaml (with its Pod Identity roles), the AWS resources
of the greetings' events (the S3 bucket, emptied first, the SQS queues, the SNS topics with their
subscriptions, the DynamoDB table), and last the cluster's CloudWatch log group, which eksctl leaves.
About 15 minutes.

Options:
  --yes       do not ask for confirmation (needed when there is no terminal, e.g. in CI)
  --dry-run   print every command without running any (needs no cloud access; <account> stands for
              your AWS account id)
  -h, --help  show this help
EOF
}

args=()
for a in "$@"; do
  if [[ "$a" == --yes ]]; then ASSUME_YES=1; else args+=("$a"); fi
done
parse_dry_run_args "${args[@]+"${args[@]}"}"
need_tools aws eksctl kubectl helm

eks_config
[[ "$DATADOG_NS" != default && "$DATADOG_NS" != kube-* ]] ||
  die "$AGENT_FILE is in namespace $DATADOG_NS, which this script will not delete: give the Agent its own namespace"
# Where EKS writes the control plane logs that the cluster file's cloudWatch.clusterLogging enables.
LOG_GROUP="/aws/eks/$CLUSTER_NAME/cluster"

if is_dry_run; then
  echo "# Dry run: nothing is deleted; every command is printed as it would run."
else
  confirm "Delete EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER and everything deployed on it?" ||
    die "nothing deleted"
fi

on_failure_hint() { echo "The cluster may still exist and cost money: aws eks describe-cluster --name $CLUSTER_NAME --region $AWS_REGION_OF_CLUSTER"; }

# Deleting objects whose CRD is gone fails, so a re-run skips what an earlier run removed.
exists() { kubectl get "$@" >/dev/null 2>&1; }

# Only this account's bucket: one of the same name elsewhere is not ours to empty.
bucket_exists() {
  aws_found "look up" "bucket $RECEIPTS_BUCKET" aws s3api head-bucket --bucket "$RECEIPTS_BUCKET" \
    --expected-bucket-owner "$ACCOUNT" --region "$AWS_REGION_OF_CLUSTER"
}

# gone WHAT DELETION... : prints and runs DELETION, an AWS CLI call; WHAT already gone is skipped.
gone() {
  run_shown "$(_format_cmd "${@:2}")" :
  is_dry_run && return
  aws_found delete "$@" || info "skipped: $1 does not exist (already deleted)"
}

steps_total 6
cluster_status ACTIVE "steps 1-3 run only if the cluster is ACTIVE, step 4 only if it exists (aws eks describe-cluster)"
case "$CLUSTER_STATUS" in
  ACTIVE) run aws eks update-kubeconfig --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER" ;;
  NONE) log "cluster $CLUSTER_NAME does not exist in $AWS_REGION_OF_CLUSTER: only its log group may be left" ;;
  *) warn "cluster is $CLUSTER_STATUS: skipping the in-cluster steps, deleting the cluster itself" ;;
esac

if [[ "$CLUSTER_STATUS" == ACTIVE ]]; then
  # The in-cluster part is the deploy path's own removal, run while the cluster's CSI driver can delete the volumes.
  step "Dapr and the app: scripts/install.sh --uninstall, the steps below" "2-4 min"
  DRY_RUN=$DRY_RUN "$SCRIPTS_DIR/install.sh" --uninstall

  step "Datadog Agent, Operator and Secret" "1-2 min"
  note "the Agent first, while the Operator still runs to clean up after it"
  if when "the DatadogAgent CRD exists" exists crd datadogagents.datadoghq.com; then
    run kubectl delete -f "$AGENT_FILE" --ignore-not-found
  fi
  run helm uninstall datadog-operator --namespace "$DATADOG_NS" --ignore-not-found --wait
  run kubectl delete secret datadog-secret --namespace "$DATADOG_NS" --ignore-not-found
  run kubectl delete namespace "$DATADOG_NS" --ignore-not-found

  step "StorageClass gp3" "seconds"
  run kubectl delete -f kubernetes/storage/gp3-storageclass.yaml --ignore-not-found
fi

if [[ "$CLUSTER_STATUS" != NONE ]]; then
  step "EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER" "10-15 min"
  run eksctl delete cluster -f "$CLUSTER_FILE" --wait --disable-nodegroup-eviction
fi

step "AWS resources of the greetings' events: S3 bucket, SQS queues, SNS topics, DynamoDB table" "seconds"
aws_account
if when "bucket $RECEIPTS_BUCKET exists in this account (aws s3api head-bucket)" bucket_exists; then
  note "a bucket must be empty to be deleted"
  run aws s3 rm "s3://$RECEIPTS_BUCKET" --recursive --region "$AWS_REGION_OF_CLUSTER"
  run aws s3api delete-bucket --bucket "$RECEIPTS_BUCKET" --expected-bucket-owner "$ACCOUNT" --region "$AWS_REGION_OF_CLUSTER"
fi
is_dry_run && note "a queue or table already gone is skipped; deleting a topic that is gone succeeds"
for queue in "${EVENTS_QUEUES[@]%%:*}"; do
  gone "queue $queue" aws sqs delete-queue --queue-url "https://sqs.$AWS_REGION_OF_CLUSTER.amazonaws.com/$ACCOUNT/$queue" \
    --region "$AWS_REGION_OF_CLUSTER"
done
note "deleting a topic deletes its subscriptions"
read -ra topics <<<"${EVENTS_QUEUES[*]#*:}"
for topic in "${topics[@]}"; do
  run aws sns delete-topic --topic-arn "arn:aws:sns:$AWS_REGION_OF_CLUSTER:$ACCOUNT:$topic" --region "$AWS_REGION_OF_CLUSTER"
done
gone "table $EVENTS_TABLE" aws dynamodb delete-table --table-name "$EVENTS_TABLE" --region "$AWS_REGION_OF_CLUSTER"
run aws dynamodb wait table-not-exists --table-name "$EVENTS_TABLE" --region "$AWS_REGION_OF_CLUSTER"

step "CloudWatch log group $LOG_GROUP" "seconds"
is_dry_run && note "skipped if it does not exist"
gone "log group $LOG_GROUP" aws logs delete-log-group --log-group-name "$LOG_GROUP" --region "$AWS_REGION_OF_CLUSTER"
steps_finished

is_dry_run || log "everything is deleted"
