#!/usr/bin/env bash
# scripts/install.sh: fails fast on missing tools or inputs; --dry-run plans every step calling no tool;
# for real, on an ACTIVE cluster of testlib.sh's fake cloud (any cluster kubectl points at), it installs
# Dapr with kubernetes/dapr-values.yaml, the dashboard, the token Secrets and the app, a second run
# changes nothing, a changed injector restarts the apps once, and --uninstall leaves nothing behind.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(kubectl helm)
INPUTS=(IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)
NO_IMAGES=(-u IMAGE_REGISTRY -u IMAGE_TAG)

# cluster : the fake cloud with just an ACTIVE cluster, as kind, minikube or k3d would be.
cluster() { fake_cloud; mkdir -p "$WORLD/cluster"; echo ACTIVE >"$WORLD/cluster/status"; }
# install_app [VAR=VALUE...] : a real run; $CALLS then holds its calls only.
install_app() { : >"$CALLS"; capture env "${INPUTS[@]}" "$@" "$SCRIPTS/install.sh"; }
uninstall() { : >"$CALLS"; capture env "${NO_IMAGES[@]}" "$SCRIPTS/install.sh" --uninstall; }
# plan [VAR=VALUE...] : the dry run, with stubs of every tool.
plan() { sandbox_path "${TOOLS[@]}"; capture env "${INPUTS[@]}" "$@" "$SCRIPTS/install.sh" --dry-run; }
# call PREFIX : the recorded calls starting with PREFIX, at least one.
call() {
  local found
  found=$(awk -v p="$1" 'index($0, p) == 1' "$CALLS")
  [[ -n "$found" ]] || fail "no call: $1" "--- calls:" "$(calls)"
  printf '%s\n' "$found"
}
app() { cat "$WORLD/cluster/ns/dapr-services/app"; } # the kustomization applied

test_help_and_unknown_argument() { check_cli install.sh "[--uninstall] [--dry-run] [-h|--help]" "${TOOLS[@]}"; }

test_dry_run_plans_every_step_with_the_pushed_images_calling_no_tool() {
  local dir
  plan
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_eq 5 "$(grep -cE '^==> \[[1-5]/5\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
  # The steps a real run may skip are planned too.
  assert_in_order "$OUT" "+ helm upgrade --install dapr dapr --repo https://dapr.github.io/helm-charts --version $DAPR_RUNTIME_VERSION " \
    "+ helm upgrade --install dapr-dashboard dapr-dashboard " "+ kubectl apply -k " \
    "kubectl create secret generic dapr-api-token " "kubectl create secret generic app-api-token " "+ kubectl apply -k " \
    "+ kubectl rollout status deployment/comms " "+ kubectl rollout status deployment/greeter "
  assert_contains "$OUT" " --values kubernetes/dapr-values.yaml --set global.tag=$DAPR_RUNTIME_VERSION --wait "
  # The overlay of kubernetes/README.md, whose image names kubernetes/tests checks against the base:
  # the pushed images, and Datadog's version tag following the image tag.
  assert_in_order "$OUT" "#     - ../../kubernetes" "- name: comms-service" "newName: registry.example.com/team/comms-service" 'newTag: "1.2.3"' \
    "- name: greeter-service" "newName: registry.example.com/team/greeter-service" 'newTag: "1.2.3"' \
    "#   labels:" "#     - pairs:" '#         tags.datadoghq.com/version: "1.2.3"' "#       includeTemplates: true"
  dir=$(sed -nE 's/.*temporary overlay (.*)\/kustomization\.yaml.*/\1/p' <<<"$OUT" | head -n1)
  [[ -n "$dir" ]] || fail "no temporary overlay in the plan" "$OUT"
  assert_contains "$OUT" "+ kubectl apply -k $dir"
  [[ ! -e "$dir" ]] || fail "temporary overlay $dir is still there after the script ended"
}

test_dry_run_of_uninstall_plans_the_removal_in_reverse_calling_no_tool() {
  sandbox_path "${TOOLS[@]}"
  capture env "${NO_IMAGES[@]}" "$SCRIPTS/install.sh" --uninstall --dry-run
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_in_order "$OUT" "+ kubectl delete -k " "+ kubectl wait --for=delete namespace/dapr-services " \
    "+ helm uninstall dapr-dashboard " "+ helm uninstall dapr " "+ kubectl delete pvc --all -n dapr-system" \
    "+ kubectl delete namespace dapr-system " "+ kubectl delete crd "
  assert_not_contains "$OUT" "images:" "the overlay to delete"
}

test_a_first_run_installs_everything_and_a_second_changes_nothing() {
  local dapr want name token before
  cluster
  install_app
  assert_status 0 "$RC"
  assert_contains "$ERR" "on kubectl context fake-context"
  dapr=$(call "helm upgrade --install dapr dapr ")
  for want in "--repo https://dapr.github.io/helm-charts --version $DAPR_RUNTIME_VERSION" "--namespace dapr-system --create-namespace" \
    "--values kubernetes/dapr-values.yaml" "--set global.tag=$DAPR_RUNTIME_VERSION" "--wait"; do
    assert_contains "$dapr " " $want " "the Dapr release"
  done
  assert_not_contains "$dapr" "global.registry" "the Dapr release"
  assert_contains "$(call "helm upgrade --install dapr-dashboard ")" " --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system "
  assert_in_order "$(calls)" "helm upgrade --install dapr " "helm upgrade --install dapr-dashboard " \
    "kubectl apply -k " "kubectl create secret generic dapr-api-token " "kubectl create secret generic app-api-token " \
    "kubectl apply -k " "kubectl rollout status deployment/comms " "kubectl rollout status deployment/greeter "
  assert_contains "$(grep 'kubectl apply -k ' "$CALLS" | head -n1)" "--selector app.kubernetes.io/name=dapr-services" "the first apply -k"
  assert_not_contains "$(calls)" "rollout restart" "calls of a first install"
  assert_contains "$(app)" "newName: registry.example.com/team/greeter-service" "the applied app"
  assert_contains "$ERR" "kubectl port-forward -n dapr-services svc/comms-service 8080:80"
  assert_contains "$ERR" "kubectl port-forward -n dapr-system svc/dapr-dashboard 9999:8080"

  # Every token Secret the pods name, 32 random bytes in hex, distinct, never in the output or on a command line.
  for name in $( (grep -rhoE 'dapr\.io/(api|app)-token-secret: *[a-z0-9-]+' "$REPO_ROOT/kubernetes/base" | sed 's/.*: *//'
    grep -rh -A1 'secretKeyRef:' "$REPO_ROOT/kubernetes/base" | sed -n 's/.*name: *//p') | sort -u); do
    token=$(cat "$WORLD/cluster/ns/dapr-services/secret.$name" 2>/dev/null) || fail "secret $name, which the pods read, was not made"
    [[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "secret $name: want 64 hex digits, got [$token]"
    assert_not_contains "$OUT$ERR$(calls)" "$token" "output and command lines"
  done
  [[ -n "${name:-}" ]] || fail "kubernetes/base names no token Secret"
  [[ "$(cat "$WORLD/cluster/ns/dapr-services/secret.dapr-api-token")" != "$(cat "$WORLD/cluster/ns/dapr-services/secret.app-api-token")" ]] ||
    fail "both tokens are the same"

  before=$(world)
  install_app
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cluster after the second run"
  for want in "create secret" "rollout restart" "delete"; do assert_not_contains "$(calls)" "$want" "calls of the second run"; done
  assert_contains "$ERR" "skipped: not the case that secret dapr-api-token is missing"
  assert_in_order "$(calls)" "helm upgrade --install dapr " "helm upgrade --install dapr-dashboard " "kubectl apply -k "
}

test_a_changed_sidecar_injector_restarts_the_apps_once() {
  cluster
  sed "s/^DAPR_RUNTIME_VERSION=.*/DAPR_RUNTIME_VERSION=1.17.0/" "$SCRIPTS/versions.env" >old-versions.env
  install_app VERSIONS_FILE="$TEST_TMP/old-versions.env"
  assert_status 0 "$RC"
  install_app
  assert_status 0 "$RC"
  assert_contains "$(call "helm upgrade --install dapr ")" " --set global.tag=$DAPR_RUNTIME_VERSION "
  assert_in_order "$(calls)" "helm upgrade --install dapr " "kubectl apply -k " "kubectl apply -k " \
    "kubectl rollout restart deployment/comms deployment/greeter -n dapr-services" "kubectl rollout status deployment/comms"
  assert_contains "$ERR" "the sidecar injector changed"
  install_app
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" "rollout restart" "calls of the next run"
}

test_takes_a_local_chart_extra_values_registry_components_and_no_dashboard() {
  local dapr
  cluster
  mkdir chart dashboard
  : >chart/Chart.yaml
  : >dashboard/Chart.yaml
  echo "dapr_scheduler: {}" >extra.yaml
  install_app DAPR_CHART="$TEST_TMP/chart" DAPR_EXTRA_VALUES="$TEST_TMP/extra.yaml" DAPR_REGISTRY=localhost/dapr \
    DAPR_DASHBOARD_CHART=none KUSTOMIZE_COMPONENTS="datadog kubernetes/storage/"
  assert_status 0 "$RC"
  dapr=$(call "helm upgrade --install dapr ")
  assert_contains "$dapr" "helm upgrade --install dapr $TEST_TMP/chart --namespace dapr-system "
  assert_not_contains "$dapr" "--repo" "the Dapr release from a chart folder"
  # The extra file after the repository's, which it overrides; the tag always, as the chart says edge.
  assert_contains "$dapr" " --values kubernetes/dapr-values.yaml --values $TEST_TMP/extra.yaml "
  assert_contains "$dapr" " --set global.tag=$DAPR_RUNTIME_VERSION --set global.registry=localhost/dapr "
  assert_not_contains "$(calls)" "dapr-dashboard" "calls without a dashboard"
  assert_contains "$ERR" "skipped: no dashboard (DAPR_DASHBOARD_CHART=none)"
  assert_not_contains "$ERR" "svc/dapr-dashboard"
  assert_in_order "$(app)" "  - ../../kubernetes" "  - ../../datadog" "  - ../../kubernetes/storage" "images:"
  install_app DAPR_DASHBOARD_CHART="$TEST_TMP/dashboard"
  assert_status 0 "$RC"
  assert_contains "$(call "helm upgrade --install dapr-dashboard ")" "dapr-dashboard $TEST_TMP/dashboard --namespace dapr-system "
}

test_uninstall_removes_everything_it_made_and_a_second_finds_nothing_to_do() {
  cluster
  install_app KUSTOMIZE_COMPONENTS=datadog
  assert_status 0 "$RC"
  uninstall
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "kubectl delete -k " "kubectl wait --for=delete namespace/dapr-services " \
    "helm uninstall dapr-dashboard --namespace dapr-system " "helm uninstall dapr --namespace dapr-system " \
    "kubectl delete pvc --all -n dapr-system " "kubectl wait --for=delete pv/" "kubectl delete namespace dapr-system " \
    "kubectl delete crd --selector app.kubernetes.io/part-of=dapr"
  assert_eq "$WORLD/cluster/status" "$(find "$WORLD" -type f)" "what is left"
  assert_eq default "$(ls "$WORLD/cluster/ns")" "namespaces left"
  uninstall
  assert_status 0 "$RC"
  assert_contains "$ERR" "skipped: not the case that namespace dapr-services exists"
  assert_not_contains "$(calls)" "delete -k" "calls with nothing left"
}

test_fails_fast_naming_every_missing_tool_and_where_to_get_it() { check_missing_tools install.sh --dry-run; }

test_refuses_missing_or_bad_inputs_before_any_call_and_takes_every_good_tag() {
  local setting error tag
  sandbox_path "${TOOLS[@]}"
  while read -r setting error; do
    refuses "$error" env "${INPUTS[@]}" "$setting" "$SCRIPTS/install.sh"
  done <<'CASES'
IMAGE_REGISTRY= IMAGE_REGISTRY is not set
IMAGE_TAG= IMAGE_TAG is not set
IMAGE_REGISTRY=https://ghcr.io/me IMAGE_REGISTRY must be
IMAGE_REGISTRY=ghcr.io/Me IMAGE_REGISTRY must be
DAPR_CHART=/nowhere DAPR_CHART is not a Helm chart folder
DAPR_EXTRA_VALUES=nowhere.yaml DAPR_EXTRA_VALUES is not a file
DAPR_REGISTRY=https://ghcr.io/dapr DAPR_REGISTRY must be
DAPR_DASHBOARD_CHART=nowhere DAPR_DASHBOARD_CHART is neither none
KUSTOMIZE_COMPONENTS=kubernetes/nowhere KUSTOMIZE_COMPONENTS: kubernetes/nowhere is not
CASES
  refuses "KUSTOMIZE_COMPONENTS: $REPO_ROOT/datadog is not" env "${INPUTS[@]}" KUSTOMIZE_COMPONENTS="$REPO_ROOT/datadog" "$SCRIPTS/install.sh"
  # --uninstall needs no images, but what it removes must be there to read.
  refuses "KUSTOMIZE_COMPONENTS: nowhere is not" env "${NO_IMAGES[@]}" KUSTOMIZE_COMPONENTS=nowhere "$SCRIPTS/install.sh" --uninstall
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    refuses "IMAGE_TAG must be 1-63 letters" env "${INPUTS[@]}" IMAGE_TAG="$tag" "$SCRIPTS/install.sh" --dry-run
  done
  for tag in "${GOOD_TAGS[@]}"; do
    plan IMAGE_TAG="$tag"
    assert_status 0 "$RC"
    assert_contains "$OUT" "tags.datadoghq.com/version: \"$tag\""
  done
}

run_tests
