#!/usr/bin/env bash
# scripts/delete-all.sh: asks before deleting, its dry run calls no tool, and for real, against the
# fake cloud of testlib.sh, it removes everything deploy.sh made, in the safe order (scripts/install.sh
# --uninstall: app, Dapr and its volumes; then Datadog, StorageClass, cluster, log group), skipping
# what is gone: a re-run finishes an interrupted one.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

TOOLS=(aws eksctl kubectl helm)

deploy() { # a real scripts/deploy.sh run against fake_cloud: the state delete-all starts from
  capture env DATADOG_API_KEY=0123456789abcdef0123456789abcdef IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 "$SCRIPTS/deploy.sh"
  assert_status 0 "$RC"
}
delete_all() { : >"$CALLS"; capture "$SCRIPTS/delete-all.sh" --yes; } # for real; $CALLS then holds its calls only

test_help_and_unknown_argument() { check_cli delete-all.sh "[--yes] [--dry-run] [-h|--help]" "${TOOLS[@]}"; }

test_dry_run_plans_the_teardown_in_order_calling_no_tool() {
  local yes
  sandbox_path "${TOOLS[@]}"
  for yes in --yes ""; do
    capture "$SCRIPTS/delete-all.sh" --dry-run ${yes:+"$yes"}
    assert_status 0 "$RC"
    assert_eq "" "$(calls)" "tool calls during the dry run ${yes:-without --yes}"
  done
  # The order is the real run's (below); here, that the plan shows each step a real run may skip.
  assert_in_order "$OUT" "+ aws eks update-kubeconfig " "+ kubectl delete -k " "+ helm uninstall dapr " \
    "+ kubectl delete pvc --all -n dapr-system" "+ kubectl delete -f datadog/datadog-agent.yaml" \
    "+ kubectl delete -f kubernetes/storage/gp3-storageclass.yaml" \
    "+ eksctl delete cluster -f eksctl/cluster.yaml" "+ aws logs delete-log-group --log-group-name /aws/eks/"
}

test_removes_everything_deploy_made_and_a_second_run_finds_nothing_to_do() {
  fake_cloud
  deploy
  delete_all
  assert_status 0 "$RC"
  # The volumes go while the cluster's CSI driver can still delete them.
  assert_in_order "$(calls)" "kubectl delete -k " "helm uninstall dapr-dashboard --namespace dapr-system " \
    "helm uninstall dapr --namespace dapr-system " "kubectl delete pvc --all -n dapr-system " "kubectl wait --for=delete pv/" \
    "kubectl delete namespace dapr-system " "kubectl delete crd --selector app.kubernetes.io/part-of=dapr" \
    "kubectl delete -f datadog/datadog-agent.yaml " "helm uninstall datadog-operator " "kubectl delete secret datadog-secret " \
    "kubectl delete -f kubernetes/storage/gp3-storageclass.yaml " \
    "eksctl delete cluster -f eksctl/cluster.yaml " "aws logs delete-log-group --log-group-name /aws/eks/"
  # What outlives a deleted cluster (its EBS volumes, its log group) is gone too: nothing bills.
  assert_eq "" "$(find "$WORLD" -type f)" "what is left in the account"
  delete_all
  assert_status 0 "$RC"
  assert_eq "aws aws" "$(cut -d' ' -f1 "$CALLS" | tr '\n' ' ' | sed 's/ $//')" "tools called with nothing left"
  assert_contains "$ERR" "does not exist (already deleted)"
}

test_an_interrupted_teardown_is_finished_by_running_it_again() {
  local gone
  fake_cloud
  deploy
  echo "eksctl delete cluster" >"$WORLD/fail-once"
  delete_all
  assert_failed "$RC"
  assert_contains "$ERR" "stopped at step [4/5] EKS cluster"
  delete_all
  assert_status 0 "$RC"
  for gone in "kubectl delete -k" "kubectl delete -f datadog/" "kubectl wait --for=delete"; do
    assert_not_contains "$(calls)" "$gone" "calls of the second run"
  done
  assert_in_order "$(calls)" "eksctl delete cluster " "aws logs delete-log-group "
  assert_eq "" "$(find "$WORLD" -type f)" "what is left in the account"
}

test_a_failed_uninstall_in_the_cluster_stops_the_teardown_before_the_cluster() {
  fake_cloud
  deploy
  echo "helm uninstall dapr --namespace" >"$WORLD/fail-once"
  delete_all
  assert_failed "$RC"
  assert_contains "$ERR" "scripts/install.sh: stopped at step [3/3] Dapr control plane"
  assert_contains "$ERR" "scripts/delete-all.sh: stopped at step [1/5] "
  assert_contains "$ERR" "The cluster may still exist and cost money"
  assert_not_contains "$(calls)" "eksctl delete cluster" "calls after the failed uninstall"
  delete_all
  assert_status 0 "$RC"
  assert_eq "" "$(find "$WORLD" -type f)" "what is left in the account"
}

test_deletes_the_log_group_of_a_cluster_deleted_by_hand() {
  local group
  fake_cloud
  deploy
  capture eksctl delete cluster -f eksctl/cluster.yaml
  assert_status 0 "$RC"
  group=$(cat "$WORLD/log-group") # eksctl leaves it
  delete_all
  assert_status 0 "$RC"
  assert_contains "$(calls)" "aws logs delete-log-group --log-group-name $group "
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
  [[ ! -e "$WORLD/log-group" ]] || fail "log group $group is still there"
}

test_a_cluster_still_being_created_is_deleted_without_the_in_cluster_steps() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  delete_all
  assert_status 0 "$RC"
  assert_eq "" "$(grep -E '^(kubectl|helm) ' "$CALLS" || true)" "in-cluster calls"
  assert_in_order "$(calls)" "eksctl delete cluster " "aws logs delete-log-group "
  [[ ! -e "$WORLD/cluster" ]] || fail "the cluster is still there"
}

test_refuses_without_yes_when_nobody_can_answer_or_without_its_tools() {
  sandbox_path "${TOOLS[@]}"
  refuses "re-run with --yes" "$SCRIPTS/delete-all.sh"
  rm -rf "${TEST_TMP:?}/bin"
  sandbox_path
  refuses "missing required tool(s): ${TOOLS[*]}" "$SCRIPTS/delete-all.sh" --dry-run --yes
}

run_tests
