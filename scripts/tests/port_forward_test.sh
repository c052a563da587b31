#!/usr/bin/env bash
# scripts/port-forward.sh: forwards LOCAL_PORT (default 8080) to svc/comms-service:80 in
# dapr-services, and says clearly what to do when the Service is not there. kubectl is a stub that
# answers like the real one would (the cluster is the edge we cannot run here).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/port-forward.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/port-forward.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_dry_run_forwards_8080_by_default() {
  sandbox_path kubectl
  capture "$SCRIPTS/port-forward.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ kubectl port-forward -n dapr-services svc/comms-service 8080:80"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_dry_run_honours_local_port() {
  sandbox_path kubectl
  capture env LOCAL_PORT=18080 "$SCRIPTS/port-forward.sh" --dry-run
  assert_contains "$OUT" "svc/comms-service 18080:80"
}

test_rejects_a_local_port_that_is_not_a_port() {
  sandbox_path kubectl
  for p in abc 0 70000; do
    capture env LOCAL_PORT="$p" "$SCRIPTS/port-forward.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "LOCAL_PORT must be a port number"
  done
}

test_fails_fast_without_kubectl() {
  sandbox_path
  capture "$SCRIPTS/port-forward.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): kubectl"
}

test_says_what_to_do_when_the_service_is_missing() {
  sandbox_path kubectl
  cat >"$TEST_TMP/stub-kubectl.sh" <<'STUB'
case "$1 $2" in
  "get service") echo 'Error from server (NotFound): services "comms-service" not found' >&2; exit 1 ;;
  "config current-context") echo "arn:aws:eks:us-west-2:123456789012:cluster/dapr-demo"; exit 0 ;;
esac
STUB
  capture "$SCRIPTS/port-forward.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "service comms-service not found in namespace dapr-services"
  assert_contains "$ERR" "cluster/dapr-demo"
  assert_contains "$ERR" "scripts/deploy.sh"
  assert_not_contains "$(calls)" "port-forward" "kubectl calls"
}

test_forwards_when_the_service_exists() {
  sandbox_path kubectl
  cat >"$TEST_TMP/stub-kubectl.sh" <<'STUB'
exit 0
STUB
  capture env LOCAL_PORT=18081 "$SCRIPTS/port-forward.sh"
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "kubectl get service comms-service -n dapr-services" \
    "kubectl port-forward -n dapr-services svc/comms-service 18081:80"
}

run_tests
