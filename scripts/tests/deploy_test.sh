#!/usr/bin/env bash
# scripts/deploy.sh: fails fast on missing tools or inputs (scripts/install.sh's included); --dry-run
# plans every step calling no tool; for real, against the fake cloud of testlib.sh (stubs of aws,
# eksctl, kubectl and helm), it makes what is EKS's and Datadog's, then hands over to scripts/install.sh
# (install_test.sh tests that part); a second run changes nothing, and the API key is never printed
# nor on a command line.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(aws eksctl kubectl helm)
FAKE_KEY="0123456789abcdef-not-a-real-key-$$"
INPUTS=(DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)

# deploy : a real run against fake_cloud with valid inputs; $CALLS then holds its calls only.
deploy() { : >"$CALLS"; capture env "${INPUTS[@]}" "$SCRIPTS/deploy.sh"; }
# plan : the dry run, with stubs of every tool.
plan() { sandbox_path "${TOOLS[@]}"; capture env "${INPUTS[@]}" "$SCRIPTS/deploy.sh" --dry-run; }

test_help_and_unknown_argument() { check_cli deploy.sh "[--dry-run] [-h|--help]" "${TOOLS[@]}"; }

test_dry_run_plans_every_step_then_install_sh_calling_no_tool_and_masking_the_key() {
  plan
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  # The steps a real run may skip are planned too, each with the secret masked; install.sh's last.
  assert_in_order "$OUT" "+ eksctl create cluster " "+ kubectl annotate storageclass gp2 " \
    "+ printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret" "+ kubectl apply -f datadog/datadog-agent.yaml" \
    "==> [6/6] " "+ helm upgrade --install dapr dapr " "kubectl create secret generic dapr-api-token " \
    "+ kubectl apply -k " "+ kubectl rollout status deployment/greeter "
  assert_eq 6 "$(grep -cE '^==> \[[1-6]/6\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
  assert_eq 5 "$(grep -cE '^==> \[[1-5]/5\] ' <<<"$OUT")" "scripts/install.sh's step headers"
  assert_contains "$OUT" 'tags.datadoghq.com/version: "1.2.3"' "the overlay of the pushed images"
}

test_a_first_run_installs_everything_in_order_and_a_second_changes_nothing() {
  local value ns before
  fake_cloud
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "aws eks describe-cluster --name " "eksctl create cluster -f eksctl/cluster.yaml" "aws eks update-kubeconfig --name " \
    "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "helm upgrade --install datadog-operator datadog-operator --repo https://helm.datadoghq.com --version $DATADOG_OPERATOR_CHART_VERSION " \
    "kubectl create secret generic datadog-secret " \
    "kubectl apply -f datadog/datadog-agent.yaml" "kubectl wait --for=create daemonset/" "kubectl rollout status daemonset/" \
    "helm upgrade --install dapr dapr " "helm upgrade --install dapr-dashboard " "kubectl apply -k " \
    "kubectl rollout status deployment/comms -n dapr-services" "kubectl rollout status deployment/greeter -n dapr-services"
  for value in "aws eks wait" "rollout restart" "annotate"; do
    assert_not_contains "$(calls)" "$value" "calls on an empty account"
  done
  assert_contains "$ERR" "Datadog APM > Services"

  # The key reaches the cluster, never the output or a command line.
  ns=$(bash -c 'source "$1/lib.sh"; yaml_metadata "$2" namespace' _ "$SCRIPTS" "$REPO_ROOT/datadog/datadog-agent.yaml")
  assert_eq "$FAKE_KEY" "$(cat "$WORLD/cluster/ns/$ns/secret.datadog-secret")" "datadog-secret in the Agent's namespace $ns"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_KEY" "output and command lines"

  before=$(world)
  deploy
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cloud after the second run"
  for value in "eksctl" "create secret generic dapr-api-token" "rollout restart" "annotate" "delete"; do
    assert_not_contains "$(calls)" "$value" "calls of the second run"
  done
}

test_an_older_cluster_gets_gp2_unmarked_once() {
  fake_cloud
  deploy
  assert_status 0 "$RC"
  echo true >"$WORLD/cluster/gp2-default" # as on clusters made before Kubernetes 1.30
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite" "helm upgrade --install dapr "
  assert_not_contains "$(calls)" "eksctl" "calls with the cluster there"
  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" annotate "calls of the next run"
}

test_a_failure_in_install_sh_names_both_steps_and_the_cost_and_a_rerun_finishes() {
  fake_cloud
  echo "helm upgrade --install dapr " >"$WORLD/fail-once"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "scripts/install.sh: stopped at step [1/5] Dapr control plane"
  assert_contains "$ERR" "scripts/deploy.sh: stopped at step [6/6] "
  assert_contains "$ERR" "scripts/delete-all.sh removes them all"
  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" "eksctl" "calls of the re-run"
  assert_contains "$(calls)" "kubectl rollout status deployment/greeter "
}

test_waits_for_a_cluster_being_created_and_stops_before_one_being_deleted() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "aws eks describe-cluster " "aws eks wait cluster-active --name " \
    "aws eks update-kubeconfig " "helm upgrade --install dapr "
  assert_not_contains "$(calls)" "eksctl" "calls"
  echo DELETING >"$WORLD/cluster/status"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "is DELETING; wait for it"
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
}

test_fails_fast_naming_every_missing_tool_and_where_to_get_it() { check_missing_tools deploy.sh --dry-run; }

test_refuses_missing_or_bad_inputs_of_both_scripts_before_any_call() {
  local setting error
  sandbox_path "${TOOLS[@]}"
  refuses "DATADOG_API_KEY is not set" env -u DATADOG_API_KEY "${INPUTS[@]:1}" "$SCRIPTS/deploy.sh" --dry-run
  while read -r setting error; do
    refuses "$error" env "${INPUTS[@]}" "$setting" "$SCRIPTS/deploy.sh"
  done <<'CASES'
DATADOG_API_KEY= DATADOG_API_KEY is not set
IMAGE_REGISTRY= IMAGE_REGISTRY is not set
IMAGE_TAG= IMAGE_TAG is not set
IMAGE_REGISTRY=https://ghcr.io/me IMAGE_REGISTRY must be
IMAGE_TAG=1.0- IMAGE_TAG must be 1-63 letters
KUSTOMIZE_COMPONENTS=kubernetes/nowhere KUSTOMIZE_COMPONENTS: kubernetes/nowhere is not
CASES
}

run_tests
