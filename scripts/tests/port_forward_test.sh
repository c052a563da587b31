#!/usr/bin/env bash
# scripts/port-forward.sh: forwards LOCAL_PORT (default 8080) to svc/comms-service:80 in
# dapr-services, and says clearly what to do when the Service is not there. kubectl is a stub that
# answers like the real one would (the cluster is the edge we cannot run here).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

test_help_and_unknown_argument() { check_cli port-forward.sh "[--dry-run] [-h|--help]" kubectl; }

test_forwards_8080_by_default_or_local_port() {
  sandbox_path kubectl
  capture "$SCRIPTS/port-forward.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ kubectl port-forward -n dapr-services svc/comms-service 8080:80"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  echo 'exit 0' >"$TEST_TMP/stub-kubectl.sh"
  capture env LOCAL_PORT=18081 "$SCRIPTS/port-forward.sh"
  assert_status 0 "$RC"
  assert_eq "kubectl port-forward -n dapr-services svc/comms-service 18081:80" "$(calls)" "kubectl calls"
}

test_refuses_a_local_port_that_is_not_a_port_or_no_kubectl() {
  local p
  sandbox_path
  refuses "missing required tool(s): kubectl" "$SCRIPTS/port-forward.sh"
  sandbox_path kubectl
  for p in abc 0 70000; do
    refuses "LOCAL_PORT must be a port number" env LOCAL_PORT="$p" "$SCRIPTS/port-forward.sh"
  done
}

test_says_what_to_do_when_the_service_is_missing() {
  local text
  no_service comms-service
  capture "$SCRIPTS/port-forward.sh"
  assert_failed "$RC"
  for text in 'services "comms-service" not found' cluster/dapr-demo "Deploy first with scripts/deploy.sh" \
    "aws eks update-kubeconfig --name dapr-demo --region us-west-2"; do
    assert_contains "$ERR" "$text"
  done
}

run_tests
