#!/usr/bin/env bash
# Deploys the demo to EKS: the cluster and what is EKS's or Datadog's, then scripts/install.sh for the rest.
# Every step looks first and does only what is missing, so a re-run is safe.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

# deploy.sh finds the monitors it made by this tag, which each file of datadog/monitors/ carries.
DATADOG_PROJECT_TAG=managed-by:dapr-tracing-demo

usage() {
  cat <<EOF
Usage: scripts/deploy.sh [--dry-run] [-h|--help]

Creates the AWS resources of the greetings' events (a DynamoDB table, SNS topics, SQS queues, an S3
bucket) and the EKS cluster of eksctl/cluster.yaml if they do not exist, installs or updates what is
EKS's or Datadog's: the gp3 StorageClass and the Datadog Operator, Secret and Agent (datadog/), then runs
scripts/install.sh, the deploy path of every cluster, for the rest: the Dapr control plane (Helm;
no Dapr CLI needed) and dashboard, the Dapr API token Secrets and the app with your images and its AWS
components (kubernetes/aws); last, given DATADOG_APP_KEY, Datadog's dashboard and monitors. About 25
minutes the first time, 4 again.

Required environment:
  DATADOG_API_KEY  your Datadog API key: into the Secret datadog-secret (and with DATADOG_APP_KEY to
                   Datadog's API), never printed
  IMAGE_REGISTRY   where scripts/build-images.sh pushed the images, e.g. ghcr.io/you
  IMAGE_TAG        the tag it pushed, e.g. 0.1.0 (also Datadog's version label)
Optional:
  DATADOG_APP_KEY  a Datadog application key: the last step then creates, or updates in place, the
                   dashboard datadog/dashboard.json (found by its title) and each monitor of
                   datadog/monitors/ (found by its name among those tagged $DATADOG_PROJECT_TAG)
                   through https://api.<spec.global.site of datadog/datadog-agent.yaml>; needs curl
                   and jq. Never printed nor on a command line. Without it the step is skipped.
scripts/install.sh's optional settings (see its --help) are passed on. AWS credentials come from the
AWS CLI's usual sources; kubectl's context is set to the cluster.

Options:
  --dry-run   print every command, keys masked, without running any (needs no cloud access; <account>
              stands for your AWS account id)
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
# Preflight: everything is checked before anything is changed, scripts/install.sh's inputs included.
load_versions
need_version DAPR_RUNTIME_VERSION DATADOG_OPERATOR_CHART_VERSION DAPR_DASHBOARD_CHART_VERSION
need_tools aws eksctl kubectl helm
need_env DATADOG_API_KEY "export your Datadog API key (Organization Settings > API Keys)"
# shellcheck disable=SC2153 # the user's DATADOG_API_KEY, not a misspelling of DATADOG_APP_KEY
register_secret "$DATADOG_API_KEY"
[[ "$DATADOG_API_KEY" =~ ^[0-9a-f]{32}$ ]] ||
  warn "DATADOG_API_KEY is not 32 hexadecimal characters: an application key will not work"
need_image_env
eks_config

STEPS=7
if [[ -n "${DATADOG_APP_KEY:-}" ]]; then
  register_secret "$DATADOG_APP_KEY"
  need_tools curl jq
  STEPS=8
  # spec.global.site of the DatadogAgent: the account's site, whose API is api.<site>.
  DATADOG_SITE=$(awk '/^spec:/ { s = 1; next } /^[^ #]/ { s = 0 } s && /^  [^ #]/ { g = ($1 == "global:") }
    s && g && $1 == "site:" { gsub(/["\047]/, "", $2); print $2; exit }' "$AGENT_FILE")
  [[ "$DATADOG_SITE" =~ ^[a-z0-9]+([.-][a-z0-9]+)+$ ]] || die "cannot read spec.global.site of $AGENT_FILE"
  DATADOG_FILES=(datadog/dashboard.json datadog/monitors/*.json)
  for f in "${DATADOG_FILES[@]}"; do
    jq -e 'type == "object"' "$f" >/dev/null 2>&1 || die "$f is not a JSON object"
  done
fi

on_failure_hint() { echo "Resources already created keep costing money: scripts/delete-all.sh removes them all."; }

PROJECT_TAG=dapr-tracing-demo
# What gives comms' sidecar the bucket's name (kubernetes/aws/receipts.yaml): a kustomize Component that
# scripts/install.sh deploys with kubernetes/aws, rewritten by each run (target/ is not in git).
RECEIPTS_COMPONENT=target/deploy/receipts-bucket

# missing WHAT LOOKUP... : LOOKUP, an AWS CLI call, finds no WHAT; else WHAT exists, or it dies with the error.
# A bucket answers 403 when its name is another account's, where comms would not write (eksctl/cluster.yaml).
missing() {
  aws_found "look up" "$@" && return 1
  [[ "$ANSWER" != *"(403)"* ]] || die "$1 exists, but not in account $ACCOUNT: comms would not write there (eksctl/cluster.yaml)"
}

# queue_policy QUEUE TOPIC... : the SQS attributes whose policy lets those SNS topics, and nothing else, send to QUEUE.
queue_policy() {
  local queue=$1 topic sources="" policy
  shift
  for topic in "$@"; do sources+="${sources:+,}\"arn:aws:sns:$AWS_REGION_OF_CLUSTER:$ACCOUNT:$topic\""; done
  policy=$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:%s:%s:%s","Condition":{"ArnEquals":{"aws:SourceArn":[%s]}}}]}' \
    "$AWS_REGION_OF_CLUSTER" "$ACCOUNT" "$queue" "$sources")
  printf '{"Policy":"%s"}' "${policy//\"/\\\"}"
}

associations_missing() {
  local out
  out=$(aws eks list-pod-identity-associations --cluster-name "$CLUSTER_NAME" --namespace dapr-services \
    --region "$AWS_REGION_OF_CLUSTER" --query 'associations[].serviceAccount' --output text) ||
    die "cannot list the Pod Identity associations of cluster $CLUSTER_NAME"
  [[ " $out " != *[[:space:]]comms[[:space:]]* || " $out " != *[[:space:]]greeter[[:space:]]* ]]
}

# The kustomize Component that gives comms' sidecar RECEIPTS_BUCKET (Dapr's annotation dapr.io/env), which
# kubernetes/aws/receipts.yaml reads through envRef.
write_receipts_component() {
  mkdir -p "$RECEIPTS_COMPONENT"
  cat >"$RECEIPTS_COMPONENT/kustomization.yaml" <<EOF
# Generated by scripts/deploy.sh: comms' sidecar gets the name of the receipts bucket (kubernetes/aws/receipts.yaml).
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: comms
        namespace: dapr-services
      spec:
        template:
          metadata:
            annotations:
              dapr.io/env: RECEIPTS_BUCKET=$RECEIPTS_BUCKET
EOF
  note "$RECEIPTS_COMPONENT/kustomization.yaml, deployed with kubernetes/aws:"
  if is_dry_run; then sed 's/^/  #   /' "$RECEIPTS_COMPONENT/kustomization.yaml"; fi
}

gp2_is_default() { [[ "$(kubectl get storageclass gp2 --ignore-not-found \
  -o jsonpath='{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}')" == true ]]; }

# Secrets go through a pipe: never on a command line, on disk or in the output.
create_api_key_secret() {
  printf '%s' "$DATADOG_API_KEY" | kubectl create secret generic datadog-secret --namespace "$DATADOG_NS" \
    --from-file=api-key=/dev/stdin --dry-run=client -o yaml | kubectl apply -f -
}

# The API keys go to curl on stdin (-H @-): never on a command line, on disk or in the output.
datadog_keys_to() { printf 'DD-API-KEY: %s\nDD-APPLICATION-KEY: %s\n' "$DATADOG_API_KEY" "$DATADOG_APP_KEY" | "$@"; }

# datadog_api METHOD PATH [FILE] : one call of Datadog's API v1 with FILE as its JSON body; prints the answer.
datadog_api() {
  local args=(curl -sS --fail-with-body --max-time 60 -H @- -X "$1")
  [[ -z "${3:-}" ]] || args+=(-H "Content-Type: application/json" --data-binary "@$3")
  args+=("https://api.$DATADOG_SITE/api/v1/$2")
  run_shown "printf 'DD-API-KEY: %s\\nDD-APPLICATION-KEY: %s\\n' \"\$DATADOG_API_KEY\" \"\$DATADOG_APP_KEY\" | $(_format_cmd "${args[@]}")" \
    datadog_keys_to "${args[@]}"
}

# datadog_list KIND [QUERY] : the KINDs (dashboard, monitor) that Datadog lists, into DATADOG_LIST (none in a dry run).
datadog_list() {
  DATADOG_LIST='[]'
  if is_dry_run; then datadog_api GET "$1${2:-}"; return; fi
  DATADOG_LIST=$(datadog_api GET "$1${2:-}") || die "Datadog's API did not list the ${1}s: $DATADOG_LIST"
}

# datadog_upsert KIND FILE KEY : PUTs FILE over the KIND of DATADOG_LIST whose KEY (title, name) is FILE's,
# or POSTs it when there is none, so that a re-run updates it.
datadog_upsert() {
  local kind=$1 file=$2 key=$3 value answer id
  value=$(jq -r --arg k "$key" '.[$k]' "$file")
  id=$(jq -r --arg k "$key" --arg v "$value" \
    '[if type == "object" then .dashboards[] else .[] end | select(.[$k] == $v) | .id] | first // empty' <<<"$DATADOG_LIST")
  if [[ -n "$id" ]]; then
    answer=$(datadog_api PUT "$kind/$id" "$file") || die "Datadog's API did not update $kind $id: $answer"
    info "updated $kind $id: $value"
  elif is_dry_run; then
    note "only if none has the $key \"$value\"; else the same with -X PUT to /api/v1/$kind/<its id>:"
    datadog_api POST "$kind" "$file"
  else
    answer=$(datadog_api POST "$kind" "$file") || die "Datadog's API did not create the $kind of $file: $answer"
    info "created $kind $(jq -r .id <<<"$answer"): $value"
  fi
}

steps_total "$STEPS"
is_dry_run && echo "# Dry run: nothing is changed; every command is printed as it would run."

# First, as they take seconds: a bucket name taken by another account stops the deploy before the cluster.
step "AWS resources of the greetings' events: DynamoDB table, SNS topics, SQS queues, S3 bucket" "seconds"
aws_account
if when "table $EVENTS_TABLE does not exist (aws dynamodb describe-table)" missing "table $EVENTS_TABLE" \
  aws dynamodb describe-table --table-name "$EVENTS_TABLE" --region "$AWS_REGION_OF_CLUSTER"; then
  run aws dynamodb create-table --table-name "$EVENTS_TABLE" --region "$AWS_REGION_OF_CLUSTER" \
    --attribute-definitions AttributeName=key,AttributeType=S --key-schema AttributeName=key,KeyType=HASH \
    --billing-mode PAY_PER_REQUEST --tags "Key=project,Value=$PROJECT_TAG"
fi
run aws dynamodb wait table-exists --table-name "$EVENTS_TABLE" --region "$AWS_REGION_OF_CLUSTER"
note "create-topic, create-queue and subscribe answer with what exists already; a queue's policy is set again"
for entry in "${EVENTS_QUEUES[@]}"; do
  queue=${entry%%:*}
  read -ra topics <<<"${entry#*:}"
  run aws sqs create-queue --queue-name "$queue" --tags "project=$PROJECT_TAG" --region "$AWS_REGION_OF_CLUSTER" \
    --query QueueUrl --output text
  run aws sqs set-queue-attributes --queue-url "https://sqs.$AWS_REGION_OF_CLUSTER.amazonaws.com/$ACCOUNT/$queue" \
    --attributes "$(queue_policy "$queue" "${topics[@]}")" --region "$AWS_REGION_OF_CLUSTER"
  for topic in "${topics[@]}"; do
    run aws sns create-topic --name "$topic" --tags "Key=project,Value=$PROJECT_TAG" \
      --region "$AWS_REGION_OF_CLUSTER" --query TopicArn --output text
    run aws sns subscribe --topic-arn "arn:aws:sns:$AWS_REGION_OF_CLUSTER:$ACCOUNT:$topic" --protocol sqs \
      --notification-endpoint "arn:aws:sqs:$AWS_REGION_OF_CLUSTER:$ACCOUNT:$queue" --region "$AWS_REGION_OF_CLUSTER" \
      --query SubscriptionArn --output text
  done
done
if when "bucket $RECEIPTS_BUCKET does not exist (aws s3api head-bucket)" missing "bucket $RECEIPTS_BUCKET" \
  aws s3api head-bucket --bucket "$RECEIPTS_BUCKET" --expected-bucket-owner "$ACCOUNT" --region "$AWS_REGION_OF_CLUSTER"; then
  note "S3 blocks public access to a new bucket and encrypts its objects (SSE-S3) by default"
  run aws s3api create-bucket --bucket "$RECEIPTS_BUCKET" --region "$AWS_REGION_OF_CLUSTER" \
    --create-bucket-configuration "LocationConstraint=$AWS_REGION_OF_CLUSTER"
  run aws s3api put-bucket-tagging --bucket "$RECEIPTS_BUCKET" --expected-bucket-owner "$ACCOUNT" \
    --tagging "TagSet=[{Key=project,Value=$PROJECT_TAG}]" --region "$AWS_REGION_OF_CLUSTER"
fi

step "EKS cluster $CLUSTER_NAME in $AWS_REGION_OF_CLUSTER" "15-20 min to create, seconds if it exists"
cluster_status NONE "only if 'aws eks describe-cluster' finds none (while it is CREATING: aws eks wait cluster-active)"
case "$CLUSTER_STATUS" in
  NONE) run eksctl create cluster -f "$CLUSTER_FILE" ;;
  ACTIVE) info "cluster exists: not recreated (eksctl upgrade cluster -f $CLUSTER_FILE changes it)" ;;
  CREATING | UPDATING) run aws eks wait cluster-active --name "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER" ;;
  *) die "cluster $CLUSTER_NAME is $CLUSTER_STATUS; wait for it, or remove it with scripts/delete-all.sh" ;;
esac
# A cluster made before eksctl/cluster.yaml had EKS Pod Identity gets it: the sidecars' only AWS credentials.
if [[ "$CLUSTER_STATUS" == ACTIVE ]] || is_dry_run; then
  if when "the cluster existed without the addon eks-pod-identity-agent" missing "addon eks-pod-identity-agent" \
    aws eks describe-addon --cluster-name "$CLUSTER_NAME" --addon-name eks-pod-identity-agent --region "$AWS_REGION_OF_CLUSTER"; then
    run eksctl create addon --cluster "$CLUSTER_NAME" --region "$AWS_REGION_OF_CLUSTER" --name eks-pod-identity-agent --wait
  fi
  if when "the cluster existed without the Pod Identity associations of comms and greeter" associations_missing; then
    run eksctl create podidentityassociation -f "$CLUSTER_FILE"
  fi
fi
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

step "Dapr, the token Secrets and the app with its AWS components: scripts/install.sh, the steps below" "5-9 min"
write_receipts_component
# A dry run too, when this is one.
DRY_RUN=$DRY_RUN KUSTOMIZE_COMPONENTS="kubernetes/aws $RECEIPTS_COMPONENT${KUSTOMIZE_COMPONENTS:+ $KUSTOMIZE_COMPONENTS}" \
  "$SCRIPTS_DIR/install.sh"

if [[ -n "${DATADOG_APP_KEY:-}" ]]; then
  step "Datadog dashboard and monitors (datadog/) on $DATADOG_SITE" "seconds"
  datadog_list dashboard
  datadog_upsert dashboard datadog/dashboard.json title
  datadog_list monitor "?monitor_tags=$DATADOG_PROJECT_TAG"
  for f in "${DATADOG_FILES[@]:1}"; do datadog_upsert monitor "$f" name; done
fi
steps_finished
[[ -n "${DATADOG_APP_KEY:-}" ]] || log "Datadog dashboard and monitors (datadog/): skipped, as DATADOG_APP_KEY is not set"

is_dry_run || log "Datadog APM > Services (comms, greeter); scripts/delete-all.sh when done: the cluster bills by the hour."
