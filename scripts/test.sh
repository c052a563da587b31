#!/usr/bin/env bash
# Runs every test of the project, the way CI does (.ci/run calls this), on a fresh machine:
#   1. daprd at the pinned version (scripts/daprd.sh: reused, or built once from the Go module proxy)
#   2. Maven: unit and contract tests, then end-to-end tests with real daprd sidecars (and a real
#      OpenTelemetry Collector, built once by scripts/otelcol.sh)
#   3. the local run: local-up / load / local-down on free ports (scripts/tests/local/run.sh)
#   4. Kubernetes, Datadog and eksctl files against the official schemas, plus cross-checks
#   5. shellcheck, actionlint and the tests of the EKS scripts (scripts/lint.sh)
# Opt-in, never in the default run: soak, sustained load on the local stack (scripts/bench.sh --soak).
# Every suite runs even when an earlier one fails; the exit code is non-zero if any failed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/test.sh [SUITE...]

Runs all test suites, or only the named ones: maven, local, manifests, lint.
soak (60,000 requests through the local stack, about 4.5 minutes) runs only when named.
Needs: java (17+), go, curl, python3 (each suite checks what it uses).
EOF
}

all_suites=(maven local manifests lint)
suites=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    maven | local | manifests | lint | soak) suites+=("$arg") ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ ${#suites[@]} -gt 0 ]] || suites=("${all_suites[@]}")

need_tools java go curl python3

cd "$REPO_ROOT"
daprd="" sentry=""
need_daprd() {
  if [[ -z "$daprd" ]]; then
    log "daprd and sentry (first build on a new machine: about 6 minutes; later runs reuse them)"
    # Functions run inside `if` below, where errexit is off: every failure is returned explicitly.
    daprd="$("$SCRIPTS_DIR/daprd.sh")" || return 1
    sentry="$("$SCRIPTS_DIR/daprd.sh" sentry)" || return 1
    info "using $daprd and $sentry"
  fi
}

suite_maven() {
  need_daprd || return 1
  local otelcol
  log "otelcol, the OpenTelemetry Collector of kubernetes/components/otel-collector (first build: about 2.5 minutes)"
  otelcol="$("$SCRIPTS_DIR/otelcol.sh")" || return 1
  ./mvnw -B -ntp verify -Ddaprd.path="$daprd" -Dsentry.path="$sentry" -Dotelcol.path="$otelcol"
}

suite_local() {
  need_daprd || return 1
  "$SCRIPTS_DIR/tests/local/run.sh"
}

suite_soak() {
  need_daprd || return 1
  "$SCRIPTS_DIR/bench.sh" --soak
}

suite_manifests() {
  (cd kubernetes/tests && go test -count=1 ./...)
}

suite_lint() {
  "$SCRIPTS_DIR/lint.sh"
}

passed=()
failed=()
for suite in "${suites[@]}"; do
  log "suite: $suite"
  started=$SECONDS
  if "suite_$suite"; then
    passed+=("$suite")
    info "$suite passed in $((SECONDS - started))s"
  else
    failed+=("$suite")
    info "$suite FAILED after $((SECONDS - started))s"
  fi
done

log "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}"
printf 'suites: %d passed, %d failed\n' "${#passed[@]}" "${#failed[@]}"
[[ ${#failed[@]} -eq 0 ]]
