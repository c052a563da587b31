#!/usr/bin/env bash
# scripts/dashboard.sh: opens the Dapr dashboard of the cluster on PORT (default 9999).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/dashboard.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/dashboard.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_dry_run_uses_port_9999_by_default() {
  sandbox_path dapr kubectl
  capture "$SCRIPTS/dashboard.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ dapr dashboard -k -p 9999"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_runs_the_dapr_dashboard_on_port() {
  sandbox_path dapr kubectl
  echo 'exit 0' >"$TEST_TMP/stub-dapr.sh"
  capture env PORT=12345 "$SCRIPTS/dashboard.sh"
  assert_status 0 "$RC"
  assert_eq "dapr dashboard -k -p 12345" "$(calls)" "dapr call"
}

test_rejects_a_port_that_is_not_a_port() {
  sandbox_path dapr kubectl
  capture env PORT=99999 "$SCRIPTS/dashboard.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "PORT must be a port number"
}

test_fails_fast_without_the_dapr_cli() {
  sandbox_path kubectl
  capture "$SCRIPTS/dashboard.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): dapr"
  assert_contains "$ERR" "docs.dapr.io"
}

run_tests
