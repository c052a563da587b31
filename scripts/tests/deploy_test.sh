#!/usr/bin/env bash
# scripts/deploy.sh: fails fast on missing tools or inputs; its --dry-run plans every step in order
# without calling any tool; and for real, against the fake cloud of testlib.sh (stubs of aws, eksctl,
# kubectl, helm and dapr answering as the CLIs do), each branch does what is missing and only that:
# a second run changes nothing, and neither the API key nor a token is ever printed or on a command line.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(aws eksctl kubectl helm dapr)
FAKE_KEY="0123456789abcdef-not-a-real-key-$$"

dry_run() { # [STUB...] : runs deploy.sh --dry-run with the given stubs and valid inputs
  sandbox_path "$@"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3 \
    "$SCRIPTS/deploy.sh" --dry-run
}

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/deploy.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/deploy.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_rejects_an_unknown_argument() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/deploy.sh" --dryrun
  assert_failed "$RC"
  assert_contains "$ERR" "unknown argument: --dryrun"
  assert_eq "" "$(calls)" "tool calls"
}

test_dry_run_never_prints_the_api_key() {
  dry_run "${TOOLS[@]}"
  assert_status 0 "$RC"
  assert_not_contains "$OUT$ERR" "$FAKE_KEY" "dry-run output"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  assert_contains "$OUT" "printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret"
}

test_dry_run_calls_no_tool() {
  dry_run "${TOOLS[@]}"
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_dry_run_points_the_app_at_the_pushed_images() {
  dry_run "${TOOLS[@]}"
  assert_contains "$OUT" "newName: registry.example.com/team/comms-service"
  assert_contains "$OUT" "newName: registry.example.com/team/greeter-service"
  assert_contains "$OUT" 'newTag: "1.2.3"'
}

test_dry_run_makes_datadogs_version_tag_follow_the_image_tag() {
  # The overlay kubernetes/README.md documents and kubernetes/tests renders: without this label
  # every release would show up in Datadog APM under the base's version.
  dry_run "${TOOLS[@]}"
  assert_in_order "$OUT" "#   labels:" "#     - pairs:" '#         tags.datadoghq.com/version: "1.2.3"' "#       includeTemplates: true"
}

test_overlay_image_names_match_the_kubernetes_base() {
  # kustomize's images: only rewrites images whose name matches; a renamed image in kubernetes/
  # would silently deploy the placeholder instead of the pushed image.
  local base_images name
  base_images=$(grep -rhoE '^[[:space:]]*(- )?image:[[:space:]]*[^[:space:]#]+' "$REPO_ROOT/kubernetes" \
    --include='*.yaml' | sed -E 's/.*image:[[:space:]]*//; s/["'\'']//g; s/[:@].*//' | sort -u)
  for name in comms-service greeter-service; do
    grep -qE "(^|/)$name\$" <<<"$base_images" ||
      fail "kubernetes/ has no image named $name (found: $(tr '\n' ' ' <<<"$base_images"))"
  done
}

test_dry_run_removes_its_temporary_overlay() {
  local dir
  dry_run "${TOOLS[@]}"
  dir=$(sed -nE 's/.*temporary overlay (.*)\/kustomization\.yaml.*/\1/p' <<<"$OUT")
  [[ -n "$dir" ]] || fail "no temporary overlay in the plan" "$OUT"
  assert_contains "$OUT" "+ kubectl apply -k $dir"
  [[ ! -e "$dir" ]] || fail "temporary overlay $dir is still there after the script ended"
}

test_dry_run_says_how_long_each_step_takes() {
  dry_run "${TOOLS[@]}"
  assert_eq 10 "$(grep -cE '^==> \[([1-9]|10)/10\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
}

deploy() { # [VAR=VALUE...] : a real run (no --dry-run) against fake_cloud; the calls of this run only
  : >"$CALLS"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3 "$@" "$SCRIPTS/deploy.sh"
}

test_a_first_run_creates_the_cluster_and_installs_everything_in_order() {
  local value
  fake_cloud
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "aws eks describe-cluster --name " \
    "eksctl create cluster -f eksctl/cluster.yaml" \
    "aws eks update-kubeconfig --name " \
    "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "helm upgrade --install datadog-operator datadog/datadog-operator --version $DATADOG_OPERATOR_CHART_VERSION " \
    "kubectl create secret generic datadog-secret " \
    "kubectl apply -f datadog/datadog-agent.yaml" \
    "kubectl rollout status daemonset/" \
    "dapr init -k --runtime-version $DAPR_RUNTIME_VERSION --set " \
    "dapr status -k" \
    "helm upgrade --install dapr-dashboard dapr/dapr-dashboard --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system " \
    "kubectl apply -k " \
    "kubectl create secret generic dapr-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl create secret generic app-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl apply -k " \
    "kubectl rollout status deployment/comms -n dapr-services" \
    "kubectl rollout status deployment/greeter -n dapr-services"
  assert_contains "$(grep 'kubectl apply -k ' "$CALLS" | head -n1)" "--selector app.kubernetes.io/name=dapr-services" "the first apply -k"
  for value in "aws eks wait" "dapr upgrade" "rollout restart" "annotate"; do
    assert_not_contains "$(calls)" "$value" "calls on an empty account"
  done
  # kubernetes/tests builds the sidecar from the values file: what it checks is what gets installed.
  while IFS= read -r value; do
    [[ "$value" =~ ^[[:space:]]*(#.*)?$ ]] || assert_contains "$(grep '^dapr init ' "$CALLS")" " --set $value " "dapr init"
  done <"$REPO_ROOT/kubernetes/dapr-helm-values.txt"
}

test_the_keys_reach_the_cluster_never_the_output_or_a_command_line() {
  local ns name token
  fake_cloud
  deploy
  assert_status 0 "$RC"
  ns=$(bash -c 'source "$1/lib.sh"; yaml_metadata "$2" namespace' _ "$SCRIPTS" "$REPO_ROOT/datadog/datadog-agent.yaml")
  assert_eq "$FAKE_KEY" "$(cat "$WORLD/cluster/ns/$ns/secret.datadog-secret")" "datadog-secret in the Agent's namespace $ns"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_KEY" "output and command lines"
  # Every token Secret the pods name, 32 random bytes in hex, distinct.
  for name in $( (grep -rhoE 'dapr\.io/(api|app)-token-secret: *[a-z0-9-]+' "$REPO_ROOT/kubernetes/base" | sed 's/.*: *//'
    grep -rh -A1 'secretKeyRef:' "$REPO_ROOT/kubernetes/base" | sed -n 's/.*name: *//p') | sort -u); do
    token=$(cat "$WORLD/cluster/ns/dapr-services/secret.$name" 2>/dev/null) || fail "secret $name, which the pods read, was not made"
    [[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "secret $name: want 64 hex digits, got [$token]"
    assert_not_contains "$OUT$ERR$(calls)" "$token" "output and command lines"
  done
  [[ -n "${name:-}" ]] || fail "kubernetes/base names no token Secret"
  [[ "$(cat "$WORLD/cluster/ns/dapr-services/secret.dapr-api-token")" != "$(cat "$WORLD/cluster/ns/dapr-services/secret.app-api-token")" ]] ||
    fail "both tokens are the same"
}

test_a_second_run_changes_nothing_and_keeps_the_tokens() {
  local before value
  fake_cloud
  deploy
  assert_status 0 "$RC"
  before=$(world)
  deploy
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cloud after the second run"
  for value in "eksctl" "dapr init" "create secret generic dapr-api-token" "create secret generic app-api-token" \
    "rollout restart" "annotate" "delete"; do
    assert_not_contains "$(calls)" "$value" "calls of the second run"
  done
  assert_contains "$ERR" "secret dapr-api-token exists: kept"
  # `dapr upgrade` resets the chart values it is not given: a re-run passes them again, then the dashboard.
  while IFS= read -r value; do
    [[ "$value" =~ ^[[:space:]]*(#.*)?$ ]] || assert_contains "$(grep '^dapr upgrade ' "$CALLS")" " --set $value " "dapr upgrade"
  done <"$REPO_ROOT/kubernetes/dapr-helm-values.txt"
  assert_in_order "$(calls)" "dapr upgrade -k --runtime-version $DAPR_RUNTIME_VERSION " "dapr status -k" \
    "helm upgrade --install dapr-dashboard " "kubectl apply -k "
}

test_an_older_deploy_gets_dapr_upgraded_gp2_unmarked_and_the_apps_restarted_once() {
  fake_cloud
  sed "s/^DAPR_RUNTIME_VERSION=.*/DAPR_RUNTIME_VERSION=1.17.0/" "$SCRIPTS/versions.env" >old-versions.env
  deploy VERSIONS_FILE="$TEST_TMP/old-versions.env"
  assert_status 0 "$RC"
  echo true >"$WORLD/cluster/gp2-default" # as on clusters made before Kubernetes 1.30
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite" \
    "dapr upgrade -k --runtime-version $DAPR_RUNTIME_VERSION --set " \
    "kubectl wait pods --all --for=condition=Ready -n dapr-system" \
    "kubectl apply -k " \
    "kubectl apply -k " \
    "kubectl rollout restart deployment/comms deployment/greeter -n dapr-services" \
    "kubectl rollout status deployment/comms"
  assert_contains "$ERR" "Dapr 1.17.0 is installed: upgrading to $DAPR_RUNTIME_VERSION"
  assert_not_contains "$(calls)" "dapr init" "calls with Dapr installed"
  assert_not_contains "$(calls)" "eksctl" "calls with the cluster there"
  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" "annotate" "calls of the next run"
  assert_not_contains "$(calls)" "rollout restart" "calls of the next run"
}

test_waits_for_a_cluster_being_created_instead_of_creating_another() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "aws eks describe-cluster " "aws eks wait cluster-active --name " \
    "aws eks update-kubeconfig " "dapr init -k "
  assert_not_contains "$(calls)" "eksctl" "calls"
}

test_stops_before_touching_a_cluster_being_deleted() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo DELETING >"$WORLD/cluster/status"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "is DELETING; wait for it"
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
}

test_fails_fast_when_the_api_key_is_unset() {
  sandbox_path "${TOOLS[@]}"
  capture env -u DATADOG_API_KEY IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "DATADOG_API_KEY is not set"
  assert_not_contains "$OUT" "+ " "plan"
  assert_eq "" "$(calls)" "tool calls"
}

test_fails_fast_when_the_api_key_is_empty() {
  sandbox_path "${TOOLS[@]}"
  capture env DATADOG_API_KEY= IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 "$SCRIPTS/deploy.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "DATADOG_API_KEY is not set"
  assert_eq "" "$(calls)" "tool calls"
}

test_fails_fast_naming_each_missing_tool_and_where_to_get_it() {
  local missing others t
  for missing in "${TOOLS[@]}"; do
    others=()
    for t in "${TOOLS[@]}"; do [[ "$t" == "$missing" ]] || others+=("$t"); done
    rm -rf "${TEST_TMP:?}/bin"
    dry_run "${others[@]}"
    assert_failed "$RC"
    assert_contains "$ERR" "missing required tool(s): $missing"
    assert_contains "$ERR" "  - $missing: "
    assert_contains "$ERR" "https://"
    assert_not_contains "$OUT" "+ " "plan without $missing"
  done
}

test_reports_all_missing_tools_at_once() {
  dry_run
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): aws eksctl kubectl helm dapr"
}

test_requires_the_image_registry_and_tag() {
  sandbox_path "${TOOLS[@]}"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_TAG=1.2.3 "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_REGISTRY is not set"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_TAG is not set"
  assert_eq "" "$(calls)" "tool calls"
}

test_accepts_exactly_the_image_tags_that_are_also_label_values() {
  local tag
  sandbox_path "${TOOLS[@]}"
  for tag in "${GOOD_TAGS[@]}"; do
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t IMAGE_TAG="$tag" "$SCRIPTS/deploy.sh" --dry-run
    assert_status 0 "$RC"
    assert_contains "$OUT" "tags.datadoghq.com/version: \"$tag\""
  done
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t IMAGE_TAG="$tag" "$SCRIPTS/deploy.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "IMAGE_TAG must be 1-63 letters"
    assert_not_contains "$OUT" "+ " "plan for tag [$tag]"
  done
  assert_eq "" "$(calls)" "tool calls"
}

test_rejects_an_image_registry_with_a_scheme_or_upper_case() {
  sandbox_path "${TOOLS[@]}"
  for reg in https://ghcr.io/me ghcr.io/Me; do
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY="$reg" IMAGE_TAG=1 "$SCRIPTS/deploy.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "IMAGE_REGISTRY must be"
  done
}

run_tests
