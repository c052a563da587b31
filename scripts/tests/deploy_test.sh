#!/usr/bin/env bash
# scripts/deploy.sh: fails fast on missing tools or inputs; --dry-run plans every step calling no tool;
# for real, against the fake cloud of testlib.sh (stubs of aws, eksctl, kubectl, helm and dapr), each
# branch does what is missing and only that: a second run changes nothing, and neither the API key
# nor a token is ever printed or on a command line.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(aws eksctl kubectl helm dapr)
FAKE_KEY="0123456789abcdef-not-a-real-key-$$"
INPUTS=(DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)

# deploy [VAR=VALUE...] : a real run against fake_cloud with valid inputs; $CALLS then holds its calls only.
deploy() { : >"$CALLS"; capture env "${INPUTS[@]}" "$@" "$SCRIPTS/deploy.sh"; }
# plan [VAR=VALUE...] : the dry run, with stubs of every tool.
plan() { sandbox_path "${TOOLS[@]}"; capture env "${INPUTS[@]}" "$@" "$SCRIPTS/deploy.sh" --dry-run; }
# passes_the_helm_values CMD : the call of CMD passed each key=value line of the values file as --set.
passes_the_helm_values() {
  local value
  while IFS= read -r value; do
    assert_contains "$(grep "^$1 " "$CALLS")" " --set $value " "$1"
  done < <(grep -Ev '^[[:space:]]*(#|$)' "$REPO_ROOT/kubernetes/dapr-helm-values.txt")
}

test_help_and_unknown_argument() { check_cli deploy.sh "[--dry-run] [-h|--help]" "${TOOLS[@]}"; }

test_dry_run_plans_every_step_with_the_pushed_images_calling_no_tool_and_masking_the_key() {
  local dir
  plan
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  # The steps a real run may skip are planned too, each with the secret masked.
  assert_in_order "$OUT" "+ eksctl create cluster " "+ kubectl annotate storageclass gp2 " \
    "+ printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret" "+ dapr init -k " \
    "kubectl create secret generic dapr-api-token " "kubectl create secret generic app-api-token "
  assert_eq 10 "$(grep -cE '^==> \[([1-9]|10)/10\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
  # The overlay of kubernetes/README.md, whose image names kubernetes/tests checks against the base:
  # the pushed images, and Datadog's version tag following the image tag.
  assert_in_order "$OUT" "- name: comms-service" "newName: registry.example.com/team/comms-service" 'newTag: "1.2.3"' \
    "- name: greeter-service" "newName: registry.example.com/team/greeter-service" 'newTag: "1.2.3"' \
    "#   labels:" "#     - pairs:" '#         tags.datadoghq.com/version: "1.2.3"' "#       includeTemplates: true"
  dir=$(sed -nE 's/.*temporary overlay (.*)\/kustomization\.yaml.*/\1/p' <<<"$OUT")
  [[ -n "$dir" ]] || fail "no temporary overlay in the plan" "$OUT"
  assert_contains "$OUT" "+ kubectl apply -k $dir"
  [[ ! -e "$dir" ]] || fail "temporary overlay $dir is still there after the script ended"
}

test_a_first_run_installs_everything_in_order_and_a_second_changes_nothing() {
  local value ns name token before
  fake_cloud
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "aws eks describe-cluster --name " "eksctl create cluster -f eksctl/cluster.yaml" "aws eks update-kubeconfig --name " \
    "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "helm upgrade --install datadog-operator datadog-operator --repo https://helm.datadoghq.com --version $DATADOG_OPERATOR_CHART_VERSION " \
    "kubectl create secret generic datadog-secret " \
    "kubectl apply -f datadog/datadog-agent.yaml" "kubectl wait --for=create daemonset/" "kubectl rollout status daemonset/" \
    "dapr init -k --runtime-version $DAPR_RUNTIME_VERSION --set " "dapr status -k" \
    "helm upgrade --install dapr-dashboard dapr-dashboard --repo https://dapr.github.io/helm-charts --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system " \
    "kubectl apply -k " "kubectl create secret generic dapr-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl create secret generic app-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl apply -k " "kubectl rollout status deployment/comms -n dapr-services" "kubectl rollout status deployment/greeter -n dapr-services"
  assert_contains "$(grep 'kubectl apply -k ' "$CALLS" | head -n1)" "--selector app.kubernetes.io/name=dapr-services" "the first apply -k"
  for value in "aws eks wait" "dapr upgrade" "rollout restart" "annotate"; do
    assert_not_contains "$(calls)" "$value" "calls on an empty account"
  done
  passes_the_helm_values "dapr init" # kubernetes/tests checks the sidecar these values make

  # The keys reach the cluster, never the output or a command line.
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

  before=$(world)
  deploy
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cloud after the second run"
  for value in "eksctl" "dapr init" "create secret generic dapr-api-token" "create secret generic app-api-token" \
    "rollout restart" "annotate" "delete"; do
    assert_not_contains "$(calls)" "$value" "calls of the second run"
  done
  assert_contains "$ERR" "skipped: not the case that secret dapr-api-token is missing"
  passes_the_helm_values "dapr upgrade" # it resets the chart values it is not given
  assert_in_order "$(calls)" "dapr upgrade -k --runtime-version $DAPR_RUNTIME_VERSION " "dapr status -k" \
    "helm upgrade --install dapr-dashboard " "kubectl apply -k "
}

test_an_older_deploy_gets_dapr_upgraded_gp2_unmarked_and_the_apps_restarted_once() {
  local value
  fake_cloud
  sed "s/^DAPR_RUNTIME_VERSION=.*/DAPR_RUNTIME_VERSION=1.17.0/" "$SCRIPTS/versions.env" >old-versions.env
  deploy VERSIONS_FILE="$TEST_TMP/old-versions.env"
  assert_status 0 "$RC"
  echo true >"$WORLD/cluster/gp2-default" # as on clusters made before Kubernetes 1.30
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite" \
    "dapr upgrade -k --runtime-version $DAPR_RUNTIME_VERSION --set " "kubectl wait pods --all --for=condition=Ready -n dapr-system" \
    "kubectl apply -k " "kubectl apply -k " "kubectl rollout restart deployment/comms deployment/greeter -n dapr-services" \
    "kubectl rollout status deployment/comms"
  assert_contains "$ERR" "Dapr 1.17.0 is installed: upgrading to $DAPR_RUNTIME_VERSION"
  assert_not_contains "$(calls)" "dapr init" "calls with Dapr installed"
  assert_not_contains "$(calls)" "eksctl" "calls with the cluster there"
  deploy
  assert_status 0 "$RC"
  for value in annotate "rollout restart"; do assert_not_contains "$(calls)" "$value" "calls of the next run"; done
}

test_waits_for_a_cluster_being_created_and_stops_before_one_being_deleted() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "aws eks describe-cluster " "aws eks wait cluster-active --name " \
    "aws eks update-kubeconfig " "dapr init -k "
  assert_not_contains "$(calls)" "eksctl" "calls"
  echo DELETING >"$WORLD/cluster/status"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "is DELETING; wait for it"
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
}

test_fails_fast_naming_every_missing_tool_and_where_to_get_it() {
  local t
  sandbox_path
  refuses "missing required tool(s): ${TOOLS[*]}" env "${INPUTS[@]}" "$SCRIPTS/deploy.sh" --dry-run
  for t in "${TOOLS[@]}"; do assert_contains "$ERR" "  - $t: "; done
  assert_contains "$ERR" "https://"
}

test_refuses_missing_or_bad_inputs_before_any_call_and_takes_every_good_tag() {
  local setting error tag
  sandbox_path "${TOOLS[@]}"
  refuses "DATADOG_API_KEY is not set" env -u DATADOG_API_KEY "${INPUTS[@]:1}" "$SCRIPTS/deploy.sh" --dry-run
  while read -r setting error; do
    refuses "$error" env "${INPUTS[@]}" "$setting" "$SCRIPTS/deploy.sh"
  done <<'CASES'
DATADOG_API_KEY= DATADOG_API_KEY is not set
IMAGE_REGISTRY= IMAGE_REGISTRY is not set
IMAGE_TAG= IMAGE_TAG is not set
IMAGE_REGISTRY=https://ghcr.io/me IMAGE_REGISTRY must be
IMAGE_REGISTRY=ghcr.io/Me IMAGE_REGISTRY must be
CASES
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    refuses "IMAGE_TAG must be 1-63 letters" env "${INPUTS[@]}" IMAGE_TAG="$tag" "$SCRIPTS/deploy.sh" --dry-run
  done
  for tag in "${GOOD_TAGS[@]}"; do
    plan IMAGE_TAG="$tag"
    assert_status 0 "$RC"
    assert_contains "$OUT" "tags.datadoghq.com/version: \"$tag\""
  done
}

run_tests
