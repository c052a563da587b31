#!/usr/bin/env bash
# Runs every test of the project, the way CI does (.ci/run calls this), on a fresh machine; the tools
# the suites need (daprd, Sentry, the Dapr CLI, the Collector, vegeta, moto, the linters) are built or
# installed on first use from the Go module proxy and PyPI. Every suite runs even when an earlier one
# fails; the exit code is non-zero if any failed.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/test.sh [SUITE...]

Runs all test suites, or only the named ones, each with its output in target/test-logs/SUITE.log;
prints one line per suite (its tests passed and failed), and for a failed suite what failed.
  maven      unit and contract tests, then end-to-end tests with real daprd sidecars and Sentry (and
             real OpenTelemetry Collectors, one with Datadog's exporter and connector; the EKS
             components of kubernetes/aws against moto, an emulator of the AWS APIs)
  local      the local run (scripts/tests/local/*.bats): local-up, load, local-down, bench --short
  manifests  offline: the EKS and Datadog files against their schemas, and the agreements across files
  lint       ShellCheck, actionlint and the bats tests of the scripts (scripts/tests/*.bats)
  cluster    the seed's journey on a real one-node cluster (scripts/cluster-up.sh, then
             scripts/tests/cluster/*.bats, then scripts/cluster-down.sh, which must leave the machine
             as it found it); Linux, as root; its logs in target/cluster-suite/
soak (scripts/bench.sh --soak: 60,000 requests through the local stack, about 4.5 minutes) runs
only when named. Needs: a JDK 25+, go, curl, jq, python3; bats comes from Debian's packages.
EOF
}

all_suites=(maven local manifests lint cluster)
suites=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    maven | local | manifests | lint | cluster | soak) suites+=("$arg") ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ ${#suites[@]} -gt 0 ]] || suites=("${all_suites[@]}")

need_tools java go curl jq python3
command -v bats >/dev/null || { log "installing bats (Debian's package)"
  sudo=(); ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq bats >/dev/null; } || die "could not install bats"
use_java_25
load_versions
need_version DATADOG_CHECKS_BASE_VERSION MOTO_VERSION
cd "$REPO_ROOT"

# Functions run inside `if` below, where errexit is off: every failure is returned explicitly.
suite_maven() {
  local daprd sentry redis moto otelcol otelcol_datadog checks intake="$REPO_ROOT/target/datadog-intake"
  log "daprd, sentry, Redis, moto, the collectors, Datadog's intake stand-in and check code (first builds on a new machine: about 6, 2.5 and 4 minutes)"
  daprd="$("$SCRIPTS_DIR/daprd.sh")" && sentry="$("$SCRIPTS_DIR/daprd.sh" sentry)" && redis="$(redis_server)" &&
    moto="$(pip_venv "moto-$MOTO_VERSION" "moto[server]==$MOTO_VERSION")" &&
    otelcol="$("$SCRIPTS_DIR/otelcol.sh")" &&
    otelcol_datadog="$("$SCRIPTS_DIR/otelcol.sh" datadog)" &&
    checks="$(pip_venv "datadog-checks-base-$DATADOG_CHECKS_BASE_VERSION" "datadog-checks-base[deps]==$DATADOG_CHECKS_BASE_VERSION")" &&
    (cd "$SCRIPTS_DIR/datadog/intake" && go build -o "$intake" .) || return 1
  ./mvnw -B -ntp verify -Ddaprd.path="$daprd" -Dsentry.path="$sentry" -Dredis.path="$redis" -Dmoto.path="$moto/bin/moto_server" \
    -Dotelcol.path="$otelcol" -DotelcolDatadog.path="$otelcol_datadog" -DdatadogIntake.path="$intake" \
    -DdatadogChecks.python="$checks/bin/python"
}
suite_local() { bats --formatter tap "$SCRIPTS_DIR/tests/local"; }
suite_soak() { "$SCRIPTS_DIR/bench.sh" --soak; }
suite_manifests() { (cd kubernetes/tests && go test -count=1 -v ./...); }
suite_lint() { "$SCRIPTS_DIR/lint.sh"; }
# What cluster-up may change on the machine, one line each: cluster-down must put it all back.
machine_state() {
  ip -o link | awk '{ print "link", $2 }'
  ip netns list | awk '{ print "netns", $1 }'
  findmnt -rn -o TARGET | awk '{ print "mount", $0 }'
  local ipt s
  for ipt in iptables-save ip6tables-save; do "$ipt" | awk -v t="$ipt" '/^[*:]/ { print t, $1 } /^-A/ { print t, $0 }'; done
  for s in "${CLUSTER_SYSCTLS[@]}"; do echo "sysctl $s=$(sysctl -n "$s")"; done
  find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -name kubepods 2>/dev/null | sed 's/^/cgroup /'
  # shellcheck disable=SC2009 # names, not patterns of pgrep's 15 characters
  ps -eo comm= | grep -E '^(containerd|kube|etcd|coredns)' | sed 's/^/process /'
}
suite_cluster() {
  local logs="$REPO_ROOT/target/cluster-suite" rc=0
  # shellcheck source=cluster/common.sh
  source "$SCRIPTS_DIR/cluster/common.sh"
  # The suite starts its own cluster and checks the machine is left as it found it.
  [[ ! -e "$CLUSTER_ROOT" ]] || { warn "a cluster is up: scripts/cluster-down.sh first"; return 1; }
  rm -rf "$logs" && mkdir -p "$logs"
  export POD_LOGS_DIR=$logs
  machine_state | sort >"$logs/machine-before.txt"
  info "cluster-up (log: $logs/cluster-up.log)"
  if "$SCRIPTS_DIR/cluster-up.sh" >"$logs/cluster-up.log" 2>&1; then
    bats --formatter tap --timing "$SCRIPTS_DIR/tests/cluster" || rc=1
  else
    tail -n 40 "$logs/cluster-up.log" >&2
    rc=1
  fi
  cp -r "$CLUSTER_ROOT/logs" "$logs/cluster" 2>/dev/null || true
  info "cluster-down (log: $logs/cluster-down.log)"
  "$SCRIPTS_DIR/cluster-down.sh" >"$logs/cluster-down.log" 2>&1 || { tail -n 20 "$logs/cluster-down.log" >&2; rc=1; }
  machine_state | sort >"$logs/machine-after.txt"
  diff "$logs/machine-before.txt" "$logs/machine-after.txt" >&2 || { info "cluster-down left the machine changed (above)"; rc=1; }
  return "$rc"
}

# summary LOG : the tests a suite's log counts (bats' TAP lines, go test -v's, Maven's totals, lint.sh's).
summary() {
  awk '/^ok [0-9]+ .* # skip/ { s++; next } /^ok [0-9]+ / || /^ *--- PASS/ { p++ } /^not ok [0-9]+ / || /^ *--- FAIL/ { f++ }
    /^\[[A-Z]+\] Tests run: [0-9]+, Failures: [0-9]+, Errors: [0-9]+, Skipped: [0-9]+$/ {
      gsub(/,/, ""); p += $4 - $6 - $8 - $10; f += $6 + $8; s += $10 }
    /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
    END { printf "%d tests passed, %d failed, %d skipped", p, f, s }' "$1"
}

mkdir -p target/test-logs
failed=()
for suite in "${suites[@]}"; do
  out="target/test-logs/$suite.log" started=$SECONDS
  if "suite_$suite" >"$out" 2>&1; then
    printf '%-9s passed in %4ds: %s\n' "$suite" $((SECONDS - started)) "$(summary "$out")"
  else
    failed+=("$suite")
    printf '%-9s FAILED after %ds: %s (log: %s)\n' "$suite" $((SECONDS - started)) "$(summary "$out")" "$out"
    # What failed, with what it printed; else the end of the log.
    grep -E -A12 '^not ok |^ *--- FAIL|^\[ERROR\] (Tests run|Failures|  )' "$out" | head -n 60 | grep . || tail -n 30 "$out"
  fi
done
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
