#!/usr/bin/env bats
# scripts/install.sh on the cluster kubectl points at (an ACTIVE one of the stand-ins, as kind, minikube, k3d
# or EKS): Dapr, its dashboard, the token Secrets and the app; a second run changes nothing; --uninstall.
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

ENV=(IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)
APP=dapr-services
setup() { stand_ins && mkdir -p "$W/cluster" && echo ACTIVE >"$W/cluster/status"; }

@test "the dry run plans every step with the pushed images, calling nothing, and leaves no overlay behind" {
  script install.sh --dry-run
  [[ $status == 0 && ! -s $CALLS && $output == *'#         tags.datadoghq.com/version: "1.2.3"'* ]]
  [[ $(grep -cE '^==> \[[1-5]/5\] .+\(typically [^)]+\)$' <<<"$output") == 5 ]]
  planned "helm upgrade dapr dapr" "helm upgrade dapr-dashboard dapr-dashboard" "kubectl apply -k" \
    "kubectl create secret generic dapr-api-token" "kubectl create secret generic app-api-token" "kubectl apply -k" \
    "kubectl rollout status deployment/comms" "kubectl rollout status deployment/greeter"
  [[ $output =~ temporary\ overlay\ ([^ ]+)/kustomization.yaml && ! -e ${BASH_REMATCH[1]} ]]
}

@test "a first run installs Dapr, its dashboard, distinct random tokens the pods name and the app; a second changes nothing" {
  local names name token before
  script install.sh
  [[ $status == 0 && $stderr == *"on kubectl context fake-context"* && $stderr == *svc/dapr-dashboard* ]]
  called "helm upgrade dapr dapr --install --repo https://dapr.github.io/helm-charts --version $DAPR_RUNTIME_VERSION --namespace dapr-system --create-namespace --values kubernetes/dapr-values.yaml --set global.tag=$DAPR_RUNTIME_VERSION --wait" \
    "helm upgrade dapr-dashboard dapr-dashboard --install --repo https://dapr.github.io/helm-charts --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system --wait" \
    "kubectl apply -k --selector app.kubernetes.io/name=$APP" "kubectl create secret generic dapr-api-token --namespace $APP --from-file token=/dev/stdin" \
    "kubectl create secret generic app-api-token --namespace $APP --from-file token=/dev/stdin" "kubectl apply -k" \
    "kubectl rollout status deployment/comms --namespace $APP" "kubectl rollout status deployment/greeter --namespace $APP"
  not_called "kubectl rollout restart" "helm upgrade dapr --set global.registry"
  [[ $(cat "$W/cluster/ns/$APP/app") == *"newName: registry.example.com/team/greeter-service"$'\n''    newTag: "1.2.3"'*'tags.datadoghq.com/version: "1.2.3"'* ]]
  # Every Secret the pods name: 32 random bytes in hex, never shown nor on a command line.
  names=$({ grep -rhoE 'dapr\.io/(api|app)-token-secret: *[a-z0-9-]+' "$REPO/kubernetes/base"
    grep -rh -A1 'secretKeyRef:' "$REPO/kubernetes/base"; } | sed -nE 's/.*(token-secret|name): *//p' | sort -u)
  for name in $names; do
    token=$(cat "$W/cluster/ns/$APP/secret.$name")
    [[ $token =~ ^[0-9a-f]{64}$ && "$output$stderr$(cat "$CALLS")" != *"$token"* ]]
  done
  [[ -n $names && $(grep -h "" "$W/cluster/ns/$APP"/secret.* | sort -u | wc -l) == "$(wc -w <<<"$names")" ]] # and distinct
  before=$(world)
  script install.sh
  [[ $status == 0 && $(world) == "$before" ]]
}

@test "a Dapr upgrade that changes the sidecar injector restarts the apps, once" {
  sed 's/^DAPR_RUNTIME_VERSION=.*/DAPR_RUNTIME_VERSION=1.0.0/' "$SCRIPTS/versions.env" >"$BATS_TEST_TMPDIR/old.env"
  script VERSIONS_FILE="$BATS_TEST_TMPDIR/old.env" install.sh
  [[ $status == 0 ]]
  script install.sh
  [[ $status == 0 ]]
  called "helm upgrade dapr dapr --set global.tag=$DAPR_RUNTIME_VERSION" "kubectl apply -k" "kubectl apply -k" \
    "kubectl rollout restart deployment/comms deployment/greeter --namespace $APP" "kubectl rollout status deployment/comms"
  script install.sh
  [[ $status == 0 ]]
  not_called "kubectl rollout restart"
}

@test "takes a chart folder, extra values after the repository's, a Dapr registry, components and no dashboard" {
  local t=$BATS_TEST_TMPDIR
  mkdir "$t/chart" "$t/dashboard" && : >"$t/chart/Chart.yaml" && : >"$t/dashboard/Chart.yaml" && : >"$t/extra.yaml"
  script DAPR_CHART="$t/chart" DAPR_EXTRA_VALUES="$t/extra.yaml" DAPR_REGISTRY=localhost/dapr DAPR_DASHBOARD_CHART=none \
    KUSTOMIZE_COMPONENTS="datadog kubernetes/storage/" install.sh
  [[ $status == 0 && $stderr != *svc/dapr-dashboard* ]]
  called "helm upgrade dapr $t/chart --set global.tag=$DAPR_RUNTIME_VERSION --set global.registry=localhost/dapr"
  [[ $(cat "$CALLS") == *" --values=kubernetes/dapr-values.yaml --values=$t/extra.yaml "* ]]
  not_called "helm upgrade dapr --repo" "helm upgrade dapr-dashboard"
  [[ $(cat "$W/cluster/ns/$APP/app") == *"  - ../../kubernetes"$'\n'"  - ../../datadog"$'\n'"  - ../../kubernetes/storage"$'\n'* ]]
  script DAPR_DASHBOARD_CHART="$t/dashboard" install.sh
  called "helm upgrade dapr-dashboard $t/dashboard --namespace dapr-system"
}

@test "--uninstall, needing no images, leaves the cluster as it was; a second run finds nothing to do" {
  script KUSTOMIZE_COMPONENTS=datadog install.sh
  [[ $status == 0 ]]
  ENV=()
  script KUSTOMIZE_COMPONENTS=datadog install.sh --uninstall
  [[ $status == 0 && $(cd "$W" && find . -type f) == ./cluster/status && $(ls "$W/cluster/ns") == default ]]
  script install.sh --uninstall
  [[ $status == 0 ]]
}

@test "refuses missing images (build-images.bats checks each way to get them wrong) and bad options, --uninstall too, before any call" {
  local run error
  while IFS='|' read -r run error; do
    # shellcheck disable=SC2086 # settings, then the script and its arguments
    script $run
    [[ $status != 0 && $stderr == *"error: $error"* && ! -s $CALLS ]]
  done <<EOF
IMAGE_REGISTRY= install.sh|IMAGE_REGISTRY is not set
DAPR_CHART=/nowhere install.sh|DAPR_CHART is not a Helm chart folder
DAPR_EXTRA_VALUES=nowhere.yaml install.sh|DAPR_EXTRA_VALUES is not a file
DAPR_REGISTRY=https://ghcr.io/dapr install.sh|DAPR_REGISTRY must be
DAPR_DASHBOARD_CHART=nowhere install.sh|DAPR_DASHBOARD_CHART is neither none
KUSTOMIZE_COMPONENTS=kubernetes/nowhere install.sh|KUSTOMIZE_COMPONENTS: kubernetes/nowhere is not
KUSTOMIZE_COMPONENTS=$REPO/datadog install.sh|KUSTOMIZE_COMPONENTS: $REPO/datadog is not
KUSTOMIZE_COMPONENTS=nowhere install.sh --uninstall|KUSTOMIZE_COMPONENTS: nowhere is not
EOF
}
