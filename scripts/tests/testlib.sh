# shellcheck shell=bash
# A small harness for the bash tests of scripts/. A test file defines functions named test_*,
# sources this file, and ends with `run_tests`. Each test runs in a subshell, in its own temp dir
# ($TEST_TMP), with `set -e`: any failed assertion or command fails that test only.
# Results: one "ok"/"FAIL" line per test; with TEST_RESULTS=FILE set (scripts/lint.sh does) they are
# also appended there as "pass NAME"/"fail NAME", otherwise the file ends with "N passed, N failed".

set -uo pipefail

# Used by the test files that source this one.
# shellcheck disable=SC2034
{
  TESTS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
  REPO_ROOT=$(cd -- "$TESTS_DIR/../.." && pwd)
  SCRIPTS="$REPO_ROOT/scripts"
  TEST_TMP=""
  CALLS=""
  OUT=""
  ERR=""
  RC=0
}

fail() {
  printf '      %s\n' "$@" >&2
  exit 1
}

assert_eq() { # EXPECTED ACTUAL [WHAT]
  [[ "$1" == "$2" ]] || fail "${3:-value}: expected [$1], got [$2]"
}

assert_contains() { # TEXT NEEDLE [WHAT]
  [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain: $2" "--- it was:" "$1"
}

assert_not_contains() { # TEXT NEEDLE [WHAT]
  [[ "$1" != *"$2"* ]] || fail "${3:-output} contains what it must not: $2"
}

assert_status() { # EXPECTED ACTUAL
  [[ "$1" == "$2" ]] || fail "exit status: expected $1, got $2" "--- stdout:" "${OUT:-}" "--- stderr:" "${ERR:-}"
}

assert_failed() { # STATUS
  [[ "$1" != 0 ]] || fail "expected a non-zero exit status, got 0" "--- stdout:" "${OUT:-}"
}

# assert_in_order TEXT NEEDLE... : each needle is found on a line after the previous needle's line.
assert_in_order() {
  local text=$1 needle line_no=0 n found
  shift
  for needle in "$@"; do
    found=0
    n=0
    while IFS= read -r line; do
      n=$((n + 1))
      if ((n > line_no)) && [[ "$line" == *"$needle"* ]]; then
        line_no=$n
        found=1
        break
      fi
    done <<<"$text"
    ((found)) || fail "not found after line $line_no: $needle" "--- in:" "$text"
  done
}

# Image tags at the edges of lib.sh's need_image_tag (valid image tag and Kubernetes label value):
# 63 characters is the most a label value takes, and it starts and ends with a letter or digit.
# shellcheck disable=SC2034 # used by the test files that source this one
{
  TAG_63=$(printf 'a%.0s' {1..63})
  GOOD_TAGS=(0.1.0 v1.0.0 latest 1 Release_2.0-rc.1 "$TAG_63")
  BAD_TAGS=("" "${TAG_63}b" 1.0- 1.0. 1.0_ .1 -1 _1 "1 0" " 1" "1 " a/b a:b)
}

ENV_BIN=$(command -v env)
SANDBOX_PATH=""

# capture CMD... : runs CMD (with the sandbox PATH, if sandbox_path was called), stdout in $OUT,
# stderr in $ERR, exit status in $RC. Never fails. Stdin is empty: no terminal to prompt on.
# shellcheck disable=SC2034 # OUT, ERR and RC are read by the tests
capture() {
  RC=0
  "$ENV_BIN" PATH="${SANDBOX_PATH:-$PATH}" "$@" >"$TEST_TMP/.out" 2>"$TEST_TMP/.err" </dev/null || RC=$?
  OUT=$(cat "$TEST_TMP/.out")
  ERR=$(cat "$TEST_TMP/.err")
}

# Utilities the scripts may use; a sandbox PATH holds only these plus the stubs a test asks for,
# so that a test can take a tool away even when the machine has it.
BASE_UTILITIES=(bash env sh cat mktemp rm rmdir mkdir dirname basename awk sed grep tr sort head tail
  cut wc sleep chmod cp mv ls tee date uname id readlink od)

# sandbox_path [STUB...] : makes capture run with PATH=$TEST_TMP/bin, holding the base utilities and a stub for each
# STUB. A stub records "NAME ARGS" in $CALLS and exits 97, unless $TEST_TMP/stub-NAME.sh exists:
# then it sources that file (which decides output and status).
sandbox_path() {
  local bin="$TEST_TMP/bin" u real s
  mkdir -p "$bin"
  for u in "${BASE_UTILITIES[@]}"; do
    real=$(command -v "$u" 2>/dev/null) || continue
    [[ "$real" == /* ]] && ln -sf "$real" "$bin/$u"
  done
  for s in "$@"; do
    cat >"$bin/$s" <<EOF
#!$(command -v bash)
printf '%s\n' "$s \$*" >>"$CALLS"
if [[ -f "$TEST_TMP/stub-$s.sh" ]]; then
  source "$TEST_TMP/stub-$s.sh"
fi
exit 97
EOF
    chmod +x "$bin/$s"
  done
  SANDBOX_PATH="$bin"
}

# calls : what the stubs were asked to do, or nothing.
calls() { [[ -f "$CALLS" ]] && cat "$CALLS"; return 0; }

run_tests() {
  local file name passed=0 failed=0 out rc
  file=$(basename -- "${BASH_SOURCE[1]}")
  for name in $(declare -F | awk '{print $3}' | grep '^test_'); do
    TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/scripts-test.XXXXXX")
    CALLS="$TEST_TMP/calls.log"
    SANDBOX_PATH=""
    export TEST_TMP CALLS
    (cd "$TEST_TMP" && set -e && "$name") >"$TEST_TMP/.test.log" 2>&1
    rc=$?
    out=$(cat "$TEST_TMP/.test.log")
    rm -rf -- "$TEST_TMP"
    if ((rc == 0)); then
      passed=$((passed + 1))
      printf 'ok   %s: %s\n' "$file" "$name"
      [[ -n "${TEST_RESULTS:-}" ]] && printf 'pass %s:%s\n' "$file" "$name" >>"$TEST_RESULTS"
    else
      failed=$((failed + 1))
      printf 'FAIL %s: %s\n%s\n' "$file" "$name" "$out"
      [[ -n "${TEST_RESULTS:-}" ]] && printf 'fail %s:%s\n' "$file" "$name" >>"$TEST_RESULTS"
    fi
  done
  [[ -z "${TEST_RESULTS:-}" ]] && printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}
