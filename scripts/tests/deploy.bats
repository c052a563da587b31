#!/usr/bin/env bats
# scripts/deploy.sh against the stand-ins: the AWS resources of the greetings' events, what is EKS's and Datadog's,
# then scripts/install.sh (install.bats tests that part) with kubernetes/aws and, given DATADOG_APP_KEY, Datadog's
# dashboard and monitors; the keys never shown.
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

KEY=0123456789abcdef0123456789abcdef APP_KEY=fedcba9876543210-app-key
ENV=("DATADOG_API_KEY=$KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)
API=https://api.datadoghq.com/api/v1
BUCKET=dapr-demo-receipts-$ACCOUNT-us-west-2

@test "the dry run plans every step, those a real run may skip too, calling nothing" {
  local monitors=() m
  for m in "$REPO"/datadog/monitors/*.json; do monitors+=("curl -X POST --data-binary @datadog/monitors/${m##*/} $API/monitor"); done
  script DATADOG_APP_KEY=$APP_KEY deploy.sh --dry-run
  [[ $status == 0 && ! -s $CALLS ]]
  [[ $(grep -cE '^==> \[[1-8]/8\] .+\(typically [^)]+\)$' <<<"$output") == 8 ]]
  planned "aws dynamodb create-table --table-name dapr-demo-greetings" "aws sqs create-queue --queue-name greeter" \
    "aws sqs set-queue-attributes" "aws sns create-topic --name greetingrequested" "aws sns subscribe --protocol sqs" \
    "aws s3api create-bucket --bucket dapr-demo-receipts-<account>-us-west-2" \
    "eksctl create cluster -f eksctl/cluster.yaml" "eksctl create addon --name eks-pod-identity-agent" \
    "eksctl create podidentityassociation -f eksctl/cluster.yaml" "kubectl annotate storageclass gp2" \
    "kubectl create secret generic datadog-secret" "kubectl apply -f -" "kubectl apply -f datadog/datadog-agent.yaml" \
    "helm upgrade dapr dapr" "kubectl rollout status deployment/greeter" "curl -X GET $API/dashboard" \
    "curl -X POST --data-binary @datadog/dashboard.json $API/dashboard" \
    "curl -X GET $API/monitor?monitor_tags=managed-by:dapr-tracing-demo" "${monitors[@]}"
}

@test "a first run makes everything in order, the key only into its Secret; a second run changes nothing" {
  local before
  script deploy.sh
  [[ $status == 0 && $stderr == *"Datadog dashboard and monitors (datadog/): skipped, as DATADOG_APP_KEY is not set"* ]]
  called "aws sts get-caller-identity" "aws dynamodb describe-table --table-name dapr-demo-greetings --region us-west-2" \
    "aws dynamodb create-table --table-name dapr-demo-greetings --billing-mode PAY_PER_REQUEST --key-schema AttributeName=key,KeyType=HASH" \
    "aws sqs create-queue --queue-name comms" "aws sns create-topic --name dapr-servicescommsgreetingrequestedoutbox" \
    "aws s3api head-bucket --bucket $BUCKET --expected-bucket-owner $ACCOUNT" "aws s3api create-bucket --bucket $BUCKET" \
    "aws eks describe-cluster --name dapr-demo --region us-west-2" "eksctl create cluster -f eksctl/cluster.yaml" \
    "aws eks update-kubeconfig --name dapr-demo --region us-west-2" "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "helm upgrade datadog-operator datadog-operator --install --repo https://helm.datadoghq.com --version $DATADOG_OPERATOR_CHART_VERSION --namespace datadog-operator --create-namespace --wait" \
    "kubectl create secret generic datadog-secret --namespace datadog-operator --from-file api-key=/dev/stdin" \
    "kubectl apply -f datadog/datadog-agent.yaml" "kubectl wait daemonset/datadog-agent --for create --namespace datadog-operator" \
    "kubectl rollout status daemonset/datadog-agent --namespace datadog-operator" "helm upgrade dapr dapr" \
    "kubectl rollout status deployment/greeter"
  not_called "kubectl annotate" "eksctl create addon" "eksctl create podidentityassociation"
  [[ $(cat "$W/cluster/ns/datadog-operator/secret.datadog-secret") == "$KEY" && "$output$stderr$(cat "$CALLS")" != *"$KEY"* ]]
  before=$(world)
  script deploy.sh
  [[ $status == 0 && $(world) == "$before" ]]
  not_called "aws dynamodb create-table" "aws s3api create-bucket" "eksctl create"
}

@test "each queue gets the topics its app reads, from them alone; comms' sidecar the bucket's name, with kubernetes/aws" {
  local q t subs
  script deploy.sh
  [[ $status == 0 ]]
  while read -r q t; do
    [[ -f $W/aws/sns/$t.sub.$q && $(cat "$W/aws/sns/$t.sub.$q") == sqs ]]
    grep -qF "\\\"arn:aws:sns:us-west-2:$ACCOUNT:$t\\\"" "$W/aws/sqs/$q/attributes"
  done <<'EOF'
greeter greetingrequested
comms greetinggreeted
comms greetingdead-letter
comms dapr-servicescommsgreetingrequestedoutbox
EOF
  subs=("$W"/aws/sns/*.sub.*)
  [[ ${#subs[@]} == 4 && $(grep -o 'arn:aws:sns' "$W/aws/sqs/greeter/attributes" | wc -l) == 1 ]]
  grep -qx '  - ../../kubernetes/aws' "$W/cluster/ns/dapr-services/app"
  grep -qx '  - ../../target/deploy/receipts-bucket' "$W/cluster/ns/dapr-services/app"
  grep -qx "              dapr.io/env: RECEIPTS_BUCKET=$BUCKET" "$REPO/target/deploy/receipts-bucket/kustomization.yaml"
}

@test "an older cluster gets EKS Pod Identity's addon and associations, and gp3 as the default for gp2, once" {
  mkdir -p "$W/cluster" && echo ACTIVE >"$W/cluster/status" && : >"$W/cluster/gp2-default"
  script deploy.sh
  [[ $status == 0 && -f $W/cluster/addon.eks-pod-identity-agent && -f $W/cluster/pia.comms && -f $W/cluster/pia.greeter ]]
  called "eksctl create addon --cluster dapr-demo --name eks-pod-identity-agent --wait" \
    "eksctl create podidentityassociation -f eksctl/cluster.yaml" "aws eks update-kubeconfig" \
    "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite"
  script deploy.sh
  [[ $status == 0 ]]
  not_called "eksctl create" "kubectl annotate"
}

@test "stops before the cluster when the bucket's name is another account's" {
  mkdir -p "$W/aws/s3/$BUCKET" && echo 444455556666 >"$W/aws/s3/$BUCKET/owner"
  script deploy.sh
  [[ $status != 0 && $stderr == *"bucket $BUCKET exists, but not in account $ACCOUNT"* && $stderr == *"stopped at step [1/7] AWS resources"* ]]
  not_called "aws s3api create-bucket" "eksctl create cluster"
}

@test "waits for a cluster being created, and stops before one being deleted" {
  mkdir -p "$W/cluster" && echo CREATING >"$W/cluster/status"
  script deploy.sh
  [[ $status == 0 ]]
  called "aws eks wait cluster-active --name dapr-demo --region us-west-2" "aws eks update-kubeconfig"
  echo DELETING >"$W/cluster/status"
  script deploy.sh
  [[ $status != 0 && $stderr == *"is DELETING; wait for it"* && $(grep -vc '^aws ' "$CALLS") == 0 ]]
}

@test "a failure in scripts/install.sh names its step, deploy.sh's, and what keeps costing money" {
  echo "helm upgrade dapr" >"$W/fail-once"
  script deploy.sh
  [[ $status != 0 && $stderr == *"scripts/install.sh: stopped at step [1/5] Dapr control plane"* ]]
  [[ $stderr == *"scripts/deploy.sh: stopped at step [7/7] "* && $stderr == *"scripts/delete-all.sh removes them all"* ]]
}

@test "with DATADOG_APP_KEY, a first run creates the dashboard and each monitor, a second updates them; a refusal is told" {
  local m before monitors=("$REPO"/datadog/monitors/*.json)
  ENV+=("DATADOG_APP_KEY=$APP_KEY")
  script deploy.sh
  [[ $status == 0 && $stderr == *"created dashboard abc-de1-fgh: Dapr tracing demo"* ]]
  called "kubectl rollout status deployment/greeter" "curl -X GET $API/dashboard" \
    "curl -X POST --data-binary @datadog/dashboard.json $API/dashboard" "curl $API/monitor?monitor_tags=managed-by:dapr-tracing-demo"
  [[ $(jq -S . "$REPO/datadog/dashboard.json") == "$(jq -S 'del(.id)' "$W"/datadog/dashboard/*)" ]]
  for m in "${monitors[@]}"; do
    [[ $(jq -c --slurpfile m "$m" 'select(del(.id) == $m[0])' "$W"/datadog/monitor/* | wc -l) == 1 ]]
  done
  [[ "$output$stderr$(cat "$CALLS")" != *"$KEY"* && "$output$stderr$(cat "$CALLS")" != *"$APP_KEY"* ]]
  before=$(world)
  script deploy.sh
  [[ $status == 0 && $(world) == "$before" && $(grep -c -- ' -X=PUT' "$CALLS") == $((1 + ${#monitors[@]})) ]]
  called "curl -X PUT --data-binary @datadog/dashboard.json $API/dashboard/abc-de1-fgh"
  : >"$W/datadog/refuse"
  script deploy.sh
  [[ $status != 0 && $stderr == *"Datadog's API did not list the dashboards: {\"errors\":[\"Forbidden\"]}"* ]]
}

@test "refuses no key, bad images or a bad option of scripts/install.sh before any call" {
  local setting error
  while read -r setting error; do
    script "$setting" deploy.sh
    [[ $status != 0 && $stderr == *"error: $error"* && ! -s $CALLS ]]
  done <<'EOF'
DATADOG_API_KEY= DATADOG_API_KEY is not set
IMAGE_TAG=1.0- IMAGE_TAG must be 1-63 letters
KUSTOMIZE_COMPONENTS=kubernetes/nowhere KUSTOMIZE_COMPONENTS: kubernetes/nowhere is not
EOF
}
