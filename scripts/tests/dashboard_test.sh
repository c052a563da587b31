#!/usr/bin/env bash
# scripts/dashboard.sh: port-forwards 127.0.0.1:PORT (default 9999) to the Service of the dashboard
# chart that scripts/deploy.sh installs; needs kubectl only (Dapr CLI 1.18 has no dashboard command).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

# The dapr-dashboard chart's Service (values ports.port), where deploy_test.sh sees deploy.sh install it.
FORWARD="kubectl port-forward -n dapr-system svc/dapr-dashboard --address 127.0.0.1"

test_help_and_unknown_argument() { check_cli dashboard.sh "[--dry-run] [-h|--help]" kubectl; }

test_forwards_port_9999_by_default_or_port() {
  sandbox_path kubectl
  capture "$SCRIPTS/dashboard.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ $FORWARD 9999:8080"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  echo 'exit 0' >"$TEST_TMP/stub-kubectl.sh"
  capture env PORT=12345 "$SCRIPTS/dashboard.sh"
  assert_status 0 "$RC"
  assert_eq "$FORWARD 12345:8080" "$(calls)" "kubectl calls"
}

test_says_how_to_install_the_dashboard_when_it_is_missing() {
  local text
  no_service dapr-dashboard
  capture "$SCRIPTS/dashboard.sh"
  assert_failed "$RC"
  for text in 'services "dapr-dashboard" not found' cluster/dapr-demo "scripts/deploy.sh installs it"; do
    assert_contains "$ERR" "$text"
  done
}

test_refuses_a_port_that_is_not_a_port_or_no_kubectl() {
  sandbox_path
  refuses "missing required tool(s): kubectl" "$SCRIPTS/dashboard.sh"
  sandbox_path kubectl
  refuses "PORT must be a port number" env PORT=99999 "$SCRIPTS/dashboard.sh"
}

test_no_script_or_doc_runs_the_removed_dapr_dashboard_command() {
  local hits
  hits=$(grep -rnF --exclude=dashboard_test.sh "dapr dashboard" \
    "$REPO_ROOT/scripts" "$REPO_ROOT/README.md" "$REPO_ROOT/kubernetes" "$REPO_ROOT/.github" || true)
  assert_eq "" "$hits" "'dapr dashboard' (gone in Dapr CLI 1.18)"
}

run_tests
