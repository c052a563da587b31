#!/usr/bin/env bash
# scripts/dashboard.sh: port-forwards 127.0.0.1:PORT (default 9999) to the Service of the dashboard
# chart that scripts/deploy.sh installs; needs kubectl only (Dapr CLI 1.18 has no dashboard command).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

# The dapr-dashboard chart's Service (templates/dapr_dashboard_service.yaml; values ports.port).
FORWARD="kubectl port-forward -n dapr-system svc/dapr-dashboard --address 127.0.0.1"

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/dashboard.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/dashboard.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_dry_run_uses_port_9999_by_default() {
  sandbox_path kubectl
  capture "$SCRIPTS/dashboard.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ $FORWARD 9999:8080"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_port_forwards_to_the_dashboard_service_on_port() {
  sandbox_path kubectl
  echo 'exit 0' >"$TEST_TMP/stub-kubectl.sh"
  capture env PORT=12345 "$SCRIPTS/dashboard.sh"
  assert_status 0 "$RC"
  assert_eq "kubectl get service dapr-dashboard -n dapr-system
$FORWARD 12345:8080" "$(calls)" "kubectl calls"
}

test_forwards_to_the_namespace_deploy_installs_the_dashboard_in() {
  local helm_line
  sandbox_path aws eksctl kubectl helm dapr
  capture env DATADOG_API_KEY=0123456789abcdef0123456789abcdef IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 \
    "$SCRIPTS/deploy.sh" --dry-run
  assert_status 0 "$RC"
  helm_line=$(grep '^+ helm upgrade --install dapr-dashboard ' <<<"$OUT") || fail "deploy.sh installs no dapr-dashboard release" "$OUT"
  assert_contains "$helm_line" "--namespace dapr-system " "deploy.sh's dashboard install"
}

test_says_how_to_install_the_dashboard_when_it_is_missing() {
  sandbox_path kubectl
  cat >"$TEST_TMP/stub-kubectl.sh" <<'STUB'
[[ "$1" == get ]] && { echo 'Error from server (NotFound): services "dapr-dashboard" not found' >&2; exit 1; }
exit 0
STUB
  capture "$SCRIPTS/dashboard.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "service dapr-dashboard not found in namespace dapr-system"
  assert_contains "$ERR" "scripts/deploy.sh installs the dashboard"
  assert_not_contains "$(calls)" "port-forward" "kubectl calls"
}

test_rejects_a_port_that_is_not_a_port() {
  sandbox_path kubectl
  capture env PORT=99999 "$SCRIPTS/dashboard.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "PORT must be a port number"
}

test_fails_fast_without_kubectl() {
  sandbox_path dapr
  capture "$SCRIPTS/dashboard.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): kubectl"
  assert_eq "" "$(calls)" "tool calls"
}

test_no_script_or_doc_runs_the_removed_dapr_dashboard_command() {
  local hits
  hits=$(grep -rnF --exclude=dashboard_test.sh "dapr dashboard" \
    "$REPO_ROOT/scripts" "$REPO_ROOT/README.md" "$REPO_ROOT/kubernetes" "$REPO_ROOT/.github" || true)
  assert_eq "" "$hits" "'dapr dashboard' (gone in Dapr CLI 1.18)"
}

run_tests
