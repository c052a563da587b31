#!/usr/bin/env bash
# scripts/delete-all.sh: asks before deleting, its dry run calls no tool, and for real, against the
# fake cloud of testlib.sh, it removes everything deploy.sh made, in the safe order (app, Dapr,
# Datadog, volumes, cluster, log group), skipping what is gone: a re-run finishes an interrupted one.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

TOOLS=(aws eksctl kubectl helm dapr)

deploy() { # a real scripts/deploy.sh run against fake_cloud: the state delete-all starts from
  capture env DATADOG_API_KEY=0123456789abcdef0123456789abcdef IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3 \
    "$SCRIPTS/deploy.sh"
  assert_status 0 "$RC"
  : >"$CALLS"
}

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/delete-all.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/delete-all.sh [--yes] [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_dry_run_yes_tears_down_in_order() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh" --dry-run --yes
  assert_status 0 "$RC"
  assert_in_order "$OUT" \
    "+ kubectl delete -k kubernetes/base" \
    "+ helm uninstall dapr-dashboard --namespace dapr-system " \
    "+ dapr uninstall -k" \
    "+ kubectl delete -f datadog/datadog-agent.yaml" \
    "+ helm uninstall datadog-operator" \
    "+ kubectl delete secret datadog-secret" \
    "+ kubectl delete pvc --all -n dapr-system" \
    "+ kubectl delete namespace dapr-system" \
    "+ kubectl delete -f kubernetes/storage/gp3-storageclass.yaml" \
    "+ eksctl delete cluster -f eksctl/cluster.yaml" \
    "+ aws logs delete-log-group --log-group-name /aws/eks/"
}

test_dry_run_calls_no_tool() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh" --dry-run --yes
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  capture "$SCRIPTS/delete-all.sh" --dry-run
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run without --yes"
}

test_removes_everything_deploy_made_and_a_second_run_finds_nothing_to_do() {
  fake_cloud
  deploy
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "kubectl delete -k kubernetes/base " \
    "helm uninstall dapr-dashboard --namespace dapr-system " \
    "dapr uninstall -k --all" \
    "kubectl delete -f datadog/datadog-agent.yaml " \
    "helm uninstall datadog-operator " \
    "kubectl delete secret datadog-secret " \
    "kubectl delete pvc --all -n dapr-system " \
    "kubectl wait --for=delete pv/" \
    "kubectl delete namespace dapr-system " \
    "kubectl delete -f kubernetes/storage/gp3-storageclass.yaml " \
    "eksctl delete cluster -f eksctl/cluster.yaml " \
    "aws logs delete-log-group --log-group-name /aws/eks/"
  # What outlives a deleted cluster (its EBS volumes, its log group) is gone too: nothing bills.
  assert_eq "" "$(find "$WORLD" -type f)" "what is left in the account"
  : >"$CALLS"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_status 0 "$RC"
  assert_eq "aws aws aws" "$(cut -d' ' -f1 "$CALLS" | tr '\n' ' ' | sed 's/ $//')" "tools called with nothing left"
  assert_contains "$ERR" "does not exist (already deleted)"
}

test_an_interrupted_teardown_is_finished_by_running_it_again() {
  local gone
  fake_cloud
  deploy
  echo "eksctl delete cluster" >"$WORLD/fail-once"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_failed "$RC"
  assert_contains "$ERR" "stopped at step [5/6] EKS cluster"
  : >"$CALLS"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_status 0 "$RC"
  for gone in "kubectl delete -k" "dapr uninstall" "kubectl delete -f datadog/" "kubectl wait --for=delete"; do
    assert_not_contains "$(calls)" "$gone" "calls of the second run"
  done
  assert_in_order "$(calls)" "eksctl delete cluster " "aws logs delete-log-group "
  assert_eq "" "$(find "$WORLD" -type f)" "what is left in the account"
}

test_a_failed_dapr_uninstall_stops_the_teardown_before_the_cluster() {
  fake_cloud
  deploy
  : >"$WORLD/uninstall-fails"
  : >"$CALLS"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_failed "$RC"
  assert_contains "$ERR" "still installed after dapr uninstall -k"
  assert_not_contains "$(calls)" "eksctl delete cluster" "calls after the failed uninstall"
}

test_deletes_the_log_group_of_a_cluster_deleted_by_hand() {
  local group
  fake_cloud
  deploy
  capture eksctl delete cluster -f eksctl/cluster.yaml
  assert_status 0 "$RC"
  group=$(cat "$WORLD/log-group") # eksctl leaves it
  : >"$CALLS"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_status 0 "$RC"
  assert_contains "$(calls)" "aws logs delete-log-group --log-group-name $group "
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
  [[ ! -e "$WORLD/log-group" ]] || fail "log group $group is still there"
}

test_a_cluster_still_being_created_is_deleted_without_the_in_cluster_steps() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  capture "$SCRIPTS/delete-all.sh" --yes
  assert_status 0 "$RC"
  assert_eq "" "$(grep -E '^(kubectl|helm|dapr) ' "$CALLS" || true)" "in-cluster calls"
  assert_in_order "$(calls)" "eksctl delete cluster " "aws logs delete-log-group "
  [[ ! -e "$WORLD/cluster" ]] || fail "the cluster is still there"
}

test_refuses_to_delete_without_yes_when_nobody_can_answer() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "--yes"
  assert_eq "" "$(calls)" "tool calls before confirmation"
}

test_fails_fast_naming_a_missing_tool() {
  sandbox_path aws kubectl helm dapr
  capture "$SCRIPTS/delete-all.sh" --dry-run --yes
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): eksctl"
  assert_not_contains "$OUT" "+ " "plan"
}

test_rejects_an_unknown_argument() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh" --force
  assert_failed "$RC"
  assert_contains "$ERR" "unknown argument: --force"
  assert_eq "" "$(calls)" "tool calls"
}

run_tests
