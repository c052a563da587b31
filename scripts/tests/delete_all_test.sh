#!/usr/bin/env bash
# scripts/delete-all.sh: tears down in the safe order (app, Dapr, Datadog, volumes, cluster), asks
# before deleting, and its dry run calls no tool. Cloud tools are recording stubs on a sandbox PATH.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

TOOLS=(aws eksctl kubectl helm dapr)

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
    "+ eksctl delete cluster -f eksctl/cluster.yaml"
}

test_deleting_the_app_deletes_the_namespace_of_the_token_secrets() {
  # deploy.sh makes the Secrets of the Dapr tokens in dapr-services; nothing else deletes them.
  local ns
  ns=$(bash -c 'source "$1/lib.sh"; yaml_metadata "$2" name' _ "$SCRIPTS" "$REPO_ROOT/kubernetes/base/namespace.yaml")
  assert_eq dapr-services "$ns" "the namespace of kubernetes/base/namespace.yaml"
  grep -qxF '  - namespace.yaml' "$REPO_ROOT/kubernetes/base/kustomization.yaml" ||
    fail "kubernetes/base, which delete-all deletes, does not include namespace.yaml"
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh" --dry-run --yes
  assert_contains "$OUT" "+ kubectl delete -k kubernetes/base "
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

test_dry_run_waits_for_volumes_before_deleting_the_cluster() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/delete-all.sh" --dry-run --yes
  assert_in_order "$OUT" "then waits until their EBS volumes are deleted" "+ eksctl delete cluster"
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
