# shellcheck shell=bash
# The test runner of run.sh: each test is a function that returns non-zero, after
# saying why, when it fails. Source it; end with `finish`.

PASSED=0 FAILED=0 FAILED_NAMES=()

say() { printf '%s\n' "$*" >&2; }

fail() { say "  $*"; return 1; }

# show FILE : the output of a command under test, when a test fails on it.
show() { sed 's/^/  | /' "$1" >&2; }

# run_test NAME : runs the function NAME and counts it.
run_test() {
  local name=$1 started=$SECONDS
  say "--- $name"
  if "$name"; then
    PASSED=$((PASSED + 1))
    say "ok   $name ($((SECONDS - started))s)"
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    say "FAIL $name ($((SECONDS - started))s)"
  fi
}

# finish : the closing "N passed, N failed" line; fails when a test did.
finish() {
  ((FAILED == 0)) || say "failed: ${FAILED_NAMES[*]}"
  echo "$PASSED passed, $FAILED failed"
  ((FAILED == 0))
}
