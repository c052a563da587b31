#!/usr/bin/env bash
# Tests of the local-run scripts against the real thing: local-up on free ports with real daprd
# sidecars, Zipkin and both apps; load.sh; local-down; daprd.sh; dapr.yaml run by the Dapr CLI;
# bench.sh. Never touches the default ports or run directory, so a local stack of the user's keeps
# running. Ends with "N passed, N failed"; exits 1 when a test failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../lib.sh
source "$HERE/../../lib.sh"
# shellcheck source-path=SCRIPTDIR source=harness.sh
source "$HERE/harness.sh"
load_versions
SCRIPTS=$SCRIPTS_DIR

WORK="$(mktemp -d "${TMPDIR:-/tmp}/local-tests.XXXXXX")"
export LOCAL_RUN_DIR="$WORK/run"
BLOCKER_PID="" CLI_PID=""
SUITE_STARTED=$SECONDS

# Processes whose command line names this suite's work dir: local-up marks all of its own so.
# shellcheck disable=SC2009 # a fixed-string match on the whole command line, which pgrep cannot do
leftovers() { ps -eww -o pid=,args= | grep -F -- "${1:-$WORK}" | grep -v grep || true; }

cleanup() {
  [[ -n "$BLOCKER_PID" ]] && kill "$BLOCKER_PID" 2>/dev/null
  [[ -n "$CLI_PID" ]] && stop_run_file
  "$SCRIPTS/local-down.sh" >/dev/null 2>&1
  # Should local-down itself be broken, nothing of this suite may outlive it either.
  leftovers | awk '{ print $1 }' | xargs -r kill -KILL 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free ports for the whole stack, and one more that nothing will listen on.
use_free_local_up_ports
STACK_PORTS=()
for var in "${LOCAL_UP_PORTS[@]}"; do STACK_PORTS+=("${!var}"); done
until UNUSED_PORT=$(free_ports 1) && [[ " ${STACK_PORTS[*]} " != *" $UNUSED_PORT "* ]]; do :; done

# expect NAME CMD... : CMD succeeds; its output is in $WORK/NAME.out, shown when it fails.
expect() {
  local name=$1
  shift
  "$@" >"$WORK/$name.out" 2>&1 || { show "$WORK/$name.out"; fail "failed: $*"; }
}

# refuse NAME CMD... : CMD fails; its output is in $WORK/NAME.out.
refuse() {
  local name=$1
  shift
  ! "$@" >"$WORK/$name.out" 2>&1 || { show "$WORK/$name.out"; fail "succeeded: $*"; }
}

# has FILE PATTERN... : every grep pattern matches a line of FILE; otherwise shows FILE and fails.
has() {
  local file=$1 pattern
  shift
  for pattern in "$@"; do
    grep -q -- "$pattern" "$file" || { show "$file"; fail "no line matches: $pattern"; return 1; }
  done
}

# nothing_running : no process of this suite, no stack port listening, no PID file.
nothing_running() {
  local left p
  left="$(leftovers)"
  [[ -z "$left" ]] || fail "processes left behind:" "$left" || return 1
  for p in "${STACK_PORTS[@]}"; do
    ! port_in_use "$p" || fail "port $p is still listening" || return 1
  done
  [[ ! -f "$LOCAL_RUN_DIR/pids" ]] || fail "the PID file is still there"
}

UP_SECONDS=()
# up NAME : scripts/local-up.sh, output in $WORK/NAME.out; returns its exit code.
up() {
  local started=$SECONDS rc
  "$SCRIPTS/local-up.sh" >"$WORK/$1.out" 2>&1
  rc=$?
  UP_SECONDS+=("$1=$((SECONDS - started))s")
  return "$rc"
}

# load URL ARGS... : scripts/load.sh against URL.
load() { BASE_URL=$1 "$SCRIPTS/load.sh" "${@:2}"; }

# ---------------------------------------------------------------- daprd.sh

daprdScriptPrintsOnlyThePathOfThePinnedDaprd() {
  local started=$SECONDS path
  path=$("$SCRIPTS/daprd.sh" 2>"$WORK/daprd.err") || { show "$WORK/daprd.err"; fail "daprd.sh failed"; return 1; }
  [[ "$path" != *$'\n'* && -x "$path" ]] || fail "stdout is not the path of an executable alone: $path" || return 1
  [[ "$("$path" --version)" == "$DAPR_RUNTIME_VERSION" ]] || fail "$path --version is not $DAPR_RUNTIME_VERSION" || return 1
  say "  $path, $DAPR_RUNTIME_VERSION, in $((SECONDS - started))s"
}

# CVE-2026-33186, a gRPC authorization bypass, is fixed in grpc-go 1.79.3.
daprdAndSentryAreBuiltWithAFixedGrpc() {
  local bin grpc
  for bin in "$("$SCRIPTS/daprd.sh" 2>/dev/null)" "$("$SCRIPTS/daprd.sh" sentry 2>/dev/null)"; do
    grpc=$(go version -m "$bin" | awk '$1 == "dep" && $2 == "google.golang.org/grpc" { print $3 }')
    [[ -n "$grpc" ]] || fail "$bin: no google.golang.org/grpc in its build info" || return 1
    [[ "$(printf '%s\n' v1.79.3 "$grpc" | sort -V | head -n1)" == v1.79.3 ]] \
      || fail "$bin is built with grpc-go $grpc, older than the fix (v1.79.3)" || return 1
    say "  $bin: grpc-go $grpc"
  done
}

daprdScriptRefusesAModuleOfAnotherVersion() {
  mkdir -p "$WORK/mod-other" "$WORK/bin-empty"
  sed 's|github.com/dapr/dapr v[0-9.]*|github.com/dapr/dapr v1.16.4|' "$SCRIPTS/daprd/go.mod" >"$WORK/mod-other/go.mod"
  refuse daprd-other env DAPRD_MODULE_DIR="$WORK/mod-other" DAPR_INSTALL_DIR="$WORK/bin-empty" "$SCRIPTS/daprd.sh" || return 1
  has "$WORK/daprd-other.out" "v1.16.4" "DAPR_RUNTIME_VERSION=$DAPR_RUNTIME_VERSION" || return 1
  ! grep -q '^/' "$WORK/daprd-other.out" || fail "printed a path anyway" || return 1
  [[ ! -e "$WORK/bin-empty/daprd" ]] || fail "installed a daprd anyway"
}

daprdScriptSaysGoIsMissing() {
  local dir path_without_go=""
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [[ -x "$dir/go" ]] || path_without_go+="${path_without_go:+:}$dir"
  done
  mkdir -p "$WORK/bin-nogo"
  refuse daprd-nogo env PATH="$path_without_go" DAPR_INSTALL_DIR="$WORK/bin-nogo" "$SCRIPTS/daprd.sh" || return 1
  has "$WORK/daprd-nogo.out" "go is not installed"
}

# ---------------------------------------------------------------- the running stack

TRACE_ID=""
localUpAnswersThroughTheSidecarsAndPrintsTheTraceUrl() {
  up first || { show "$WORK/first.out"; fail "local-up failed"; return 1; }
  has "$WORK/first.out" '"fallback":false' '"service":"greeter"' || return 1
  TRACE_ID="$(grep -oE "http://localhost:$ZIPKIN_PORT/zipkin/traces/[0-9a-f]{32}" "$WORK/first.out" | head -n1)"
  TRACE_ID="${TRACE_ID##*/}"
  [[ -n "$TRACE_ID" ]] || { show "$WORK/first.out"; fail "no Zipkin trace URL printed"; }
}

oneTraceLinksCommsAndGreeterAppsThroughBothSidecars() {
  local problems deadline=$((SECONDS + 60))
  [[ -n "$TRACE_ID" ]] || fail "no trace id from local-up" || return 1
  until problems=$(trace_problems "$TRACE_ID") && [[ -z "$problems" ]]; do
    ((SECONDS < deadline)) || fail "trace $TRACE_ID incomplete after 60s:" "$problems" || return 1
    sleep 0.5
  done
}

# The local sidecars load the policy the cluster gets (a link to it, not a copy), and only comms' (its scope).
theLocalSidecarsLoadTheShippedResiliencyPolicy() {
  local shipped="$REPO_ROOT/kubernetes/components/resiliency/resiliency.yaml" name
  [[ "$SCRIPTS/local/resources/resiliency.yaml" -ef "$shipped" ]] \
    || fail "scripts/local/resources/resiliency.yaml is not $shipped" || return 1
  name=$(yaml_metadata "$shipped" name)
  expect comms-daprd-metrics curl -fsS --max-time 5 "http://127.0.0.1:$COMMS_DAPR_METRICS_PORT/metrics" || return 1
  expect greeter-daprd-metrics curl -fsS --max-time 5 "http://127.0.0.1:$GREETER_DAPR_METRICS_PORT/metrics" || return 1
  has "$WORK/comms-daprd-metrics.out" "^dapr_resiliency_loaded{app_id=\"comms\",name=\"$name\",.*} 1$" || return 1
  ! grep -q "^dapr_resiliency_loaded{.*name=\"$name\"" "$WORK/greeter-daprd-metrics.out" \
    || fail "greeter's sidecar loaded $name, which is scoped to comms"
}

tokensAreRandomPrivateAndNeverOnACommandLineOrInALog() {
  local file="$LOCAL_RUN_DIR/tokens.env" args token
  [[ "$(stat -c %a "$file")" == 600 ]] || fail "$file is readable by others" || return 1
  args=$(ps -eww -o args=)
  while IFS='=' read -r _ token; do
    [[ "$token" =~ ^[0-9a-f]{64}$ ]] || fail "a token is not 32 random bytes in hex" || return 1
    [[ "$args" != *"$token"* ]] || fail "a token is on a command line" || return 1
    ! grep -rqF "$token" "$LOCAL_RUN_DIR/logs" "$WORK"/*.out || fail "a token is in a log or an output" || return 1
  done <"$file"
}

loadOf100At10AllSucceedNoneLost() {
  expect load load "http://127.0.0.1:$COMMS_PORT" -n 100 -c 10 || return 1
  grep -v '^==>' "$WORK/load.out" | sed 's/^/  /' >&2
  has "$WORK/load.out" '^requests:   100$' '^successes:  100$' '^fallbacks:  0$' '^errors:     0$'
}

loadFailsWhenNothingAnswers() {
  refuse load-none load "http://127.0.0.1:$UNUSED_PORT" -n 5 -c 2 || return 1
  has "$WORK/load-none.out" '^errors:     5$' '^successes:  0$'
}

aSecondLocalUpWhileRunningRefusesAndLeavesTheStackAlone() {
  local before url
  before="$(cat "$LOCAL_RUN_DIR/pids")"
  refuse while-running "$SCRIPTS/local-up.sh" || return 1
  has "$WORK/while-running.out" "already running" || return 1
  [[ "$(cat "$LOCAL_RUN_DIR/pids" 2>/dev/null)" == "$before" ]] || fail "the PID file changed" || return 1
  for url in "http://127.0.0.1:$COMMS_PORT/actuator/health/readiness" "http://127.0.0.1:$GREETER_DAPR_HTTP_PORT/v1.0/healthz"; do
    curl -fsS -o /dev/null "$url" || fail "the running stack was disturbed: $url does not answer" || return 1
  done
}

loadCountsFallbacksWhenTheGreeterAppIsDown() {
  local pid deadline=$((SECONDS + 20))
  pid="$(awk '$1 == "greeter" { print $2 }' "$LOCAL_RUN_DIR/pids")"
  [[ -n "$pid" ]] || fail "no greeter pid recorded" || return 1
  kill -TERM "$pid"
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  ! alive "$pid" || fail "greeter did not stop" || return 1
  expect load-fallback load "http://127.0.0.1:$COMMS_PORT" -n 5 -c 5 || return 1
  has "$WORK/load-fallback.out" '^fallbacks:  5$' '^successes:  0$' '^errors:     0$'
}

localDownStopsEveryProcessAndFreesEveryPort() {
  local pids pid
  pids="$(awk '{ print $2 }' "$LOCAL_RUN_DIR/pids" 2>/dev/null)"
  [[ -n "$pids" ]] || fail "no PID file to stop from" || return 1
  expect down "$SCRIPTS/local-down.sh" || return 1
  for pid in $pids; do
    ! alive "$pid" || fail "pid $pid is still alive" || return 1
  done
  nothing_running || return 1
  expect down-again "$SCRIPTS/local-down.sh" && has "$WORK/down-again.out" "nothing to stop"
}

secondLocalUpAfterDownWorks() {
  up second || { show "$WORK/second.out"; fail "the second local-up failed"; return 1; }
  has "$WORK/second.out" '"fallback":false' || return 1
  expect down2 "$SCRIPTS/local-down.sh" && nothing_running
}

refusesToStartWhenAPortIsTaken() {
  local deadline=$((SECONDS + 10))
  # SO_REUSEADDR: the stack stopped just before may leave connections on the port in TIME_WAIT.
  python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(300)' \
    "$GREETER_DAPR_HTTP_PORT" &
  BLOCKER_PID=$!
  until port_in_use "$GREETER_DAPR_HTTP_PORT" || ((SECONDS >= deadline)); do sleep 0.1; done
  refuse port-taken "$SCRIPTS/local-up.sh" || return 1
  has "$WORK/port-taken.out" "GREETER_DAPR_HTTP_PORT=$GREETER_DAPR_HTTP_PORT" "stopped at step .*check tools, ports" || return 1
  alive "$BLOCKER_PID" || fail "local-up killed the process holding the port" || return 1
  kill "$BLOCKER_PID" 2>/dev/null
  wait "$BLOCKER_PID" 2>/dev/null
  BLOCKER_PID=""
  [[ -z "$(leftovers)" ]] || fail "processes left behind: $(leftovers)"
}

anInterruptedLocalUpStopsWhatItStarted() {
  local up_pid deadline=$((SECONDS + 60))
  "$SCRIPTS/local-up.sh" >"$WORK/interrupted.out" 2>&1 &
  up_pid=$!
  # Interrupt it while it waits for health: all six processes are started by then.
  until grep -q "wait until all six are healthy" "$WORK/interrupted.out" || ((SECONDS >= deadline)); do sleep 0.1; done
  has "$WORK/interrupted.out" "wait until all six are healthy" || return 1
  kill -TERM "$up_pid"
  ! wait "$up_pid" || fail "an interrupted local-up exited 0" || return 1
  has "$WORK/interrupted.out" "stopping everything this run started" && nothing_running
}

aSidecarThatDiesNamesTheStepShowsItsLogAndLeavesNothingRunning() {
  printf '#!/bin/sh\necho "broken-daprd: refusing to start on purpose" >&2\nexit 3\n' >"$WORK/broken-daprd"
  chmod +x "$WORK/broken-daprd"
  refuse broken-sidecar env DAPRD="$WORK/broken-daprd" "$SCRIPTS/local-up.sh" || return 1
  # Zipkin and the apps were started before the sidecars: the cleanup of all of them is exercised.
  has "$WORK/broken-sidecar.out" "stopped at step .*wait until all six are healthy" "zipkin: pid" \
    "daprd exited while starting" "broken-daprd: refusing to start on purpose" && nothing_running
}

# ---------------------------------------------------------------- bench.sh

benchMeasuresEveryLayerAndCleansUp() {
  local json="$WORK/bench.json" run_dir left
  # bench.sh picks and exports its own ports and run dir, whatever this suite exported.
  expect bench "$SCRIPTS/bench.sh" --short --out "$json" || return 1
  has "$WORK/bench.out" '^## full: ' '^## What the two sidecars add' || return 1
  # The processes each layer goes through must each have spent CPU on it.
  jq -r '
    {greeter: ["greeter"], "greeter-sidecar": ["greeter-daprd", "greeter"],
     "both-sidecars": ["comms-daprd", "greeter-daprd", "greeter"], full: ["comms", "comms-daprd", "greeter-daprd", "greeter"]} as $path
    | . as $bench
    | (["greeter", "greeter-sidecar", "both-sidecars", "full"] - [.runs[].layer] | .[] | "no run of layer \(.)"),
      (.runs[] | select(.requests <= 0 or .success != .requests) | "\(.layer) at \(.rate // "max"): \(.requests) requests, \(.success) successes"),
      (.runs[] | . as $r | $path[.layer][] | select(($r.cpu_ms_per_request[.] // 0) <= 0) | "\($r.layer) at \($r.rate // "max"): no CPU of \(.)"),
      ("greeter", "comms" | select(($bench.startup[.].median_ms // 0) <= 0) | "no start-to-ready time of \(.)")
  ' "$json" >"$WORK/bench-problems" || fail "cannot read $json" || return 1
  [[ ! -s "$WORK/bench-problems" ]] || { show "$WORK/bench-problems"; fail "the results are incomplete"; return 1; }
  run_dir="$(jq -r '.run_dir' "$json")"
  left="$(leftovers "$run_dir")"
  [[ -z "$left" ]] || { awk '{ print $1 }' <<<"$left" | xargs kill -KILL; fail "processes left behind:" "$left"; return 1; }
  [[ ! -e "$run_dir" ]] || fail "its run dir $run_dir is still there"
}

# ---------------------------------------------------------------- dapr.yaml with the Dapr CLI

# stop_run_file : what `dapr run -f` started (its own session), whatever state it is in.
stop_run_file() {
  kill -TERM -- "-$CLI_PID" 2>/dev/null && sleep 5
  kill -KILL -- "-$CLI_PID" 2>/dev/null
  CLI_PID=""
}

# `dapr run -f` on dapr.yaml (on this suite's ports, from a dir under $WORK, which leftovers() looks
# for), then `dapr stop -f`. The CLI starts no Sentry, so the sidecars have no mTLS identity and
# greeter's, which admits only comms by its identity, blocks the call: comms answers its fallback.
runFileRunsBothAppsWithSidecarsAndDaprStopStopsThem() {
  local dapr dir="$WORK/run-file" answer url port deadline
  dapr=$("$SCRIPTS/daprd.sh" dapr 2>"$WORK/dapr-cli.err") || { show "$WORK/dapr-cli.err"; fail "daprd.sh dapr failed"; return 1; }
  # The CLI runs DAPR_RUNTIME_PATH/.dapr/bin/daprd.
  mkdir -p "$dir/.dapr/bin"
  ln -s "$("$SCRIPTS/daprd.sh" 2>/dev/null)" "$dir/.dapr/bin/daprd"
  local_dapr_config "$dir/config.yaml" "$ZIPKIN_PORT" "$dir/nameresolution.db" || fail "cannot write the Dapr configuration" || return 1
  local_run_file "$dir/config.yaml" >"$dir/dapr.yaml" || fail "cannot derive the run file" || return 1
  (cd "$dir" && APP_API_TOKEN=$(random_hex 32) DAPR_RUNTIME_PATH="$dir" exec setsid "$dapr" run -f "$dir/dapr.yaml" </dev/null >"$dir/run.out" 2>&1) &
  CLI_PID=$!
  # From here: the CLI's first build above may take minutes.
  deadline=$((SECONDS + 120))
  for url in "http://127.0.0.1:$GREETER_PORT/actuator/health/readiness" "http://127.0.0.1:$GREETER_DAPR_HTTP_PORT/v1.0/healthz" \
    "http://127.0.0.1:$COMMS_PORT/actuator/health/readiness" "http://127.0.0.1:$COMMS_DAPR_HTTP_PORT/v1.0/healthz"; do
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
      if ((SECONDS >= deadline)) || ! alive "$CLI_PID"; then
        show "$dir/run.out"
        stop_run_file
        fail "not up within 120s: $url"
        return 1
      fi
      sleep 0.5
    done
  done
  answer=$(curl -sS --max-time 15 -X POST "http://127.0.0.1:$COMMS_PORT/greet" -H 'Content-Type: application/json' -d '{"name":"Ada"}')
  say "  comms answered: $answer"
  curl -fsS --max-time 5 "http://127.0.0.1:$GREETER_DAPR_METRICS_PORT/metrics" >"$dir/greeter-daprd.metrics"
  expect dapr-stop "$dapr" stop -f "$dir/dapr.yaml"
  deadline=$((SECONDS + 30))
  while alive "$CLI_PID" && ((SECONDS < deadline)); do sleep 0.2; done
  ! alive "$CLI_PID" || { stop_run_file; fail "dapr run -f still runs after dapr stop -f"; return 1; }
  CLI_PID=""
  # The CLI does not wait for the apps it signalled: give them their graceful shutdown.
  for port in "${STACK_PORTS[@]}"; do
    while port_in_use "$port" && ((SECONDS < deadline)); do sleep 0.2; done
  done
  nothing_running || return 1
  [[ "$answer" == *'"fallback":true'* ]] || fail "comms did not answer its fallback" || return 1
  has "$dir/greeter-daprd.metrics" '^dapr_runtime_acl_global_policy_action_blocked_total{.*} [1-9]'
}

# ---------------------------------------------------------------- run

say "local-run tests: ports ${STACK_PORTS[*]}, work dir $WORK"
run_test daprdScriptPrintsOnlyThePathOfThePinnedDaprd
run_test daprdAndSentryAreBuiltWithAFixedGrpc
run_test daprdScriptRefusesAModuleOfAnotherVersion
run_test daprdScriptSaysGoIsMissing
run_test localUpAnswersThroughTheSidecarsAndPrintsTheTraceUrl
run_test oneTraceLinksCommsAndGreeterAppsThroughBothSidecars
run_test theLocalSidecarsLoadTheShippedResiliencyPolicy
run_test tokensAreRandomPrivateAndNeverOnACommandLineOrInALog
run_test loadOf100At10AllSucceedNoneLost
run_test loadFailsWhenNothingAnswers
run_test aSecondLocalUpWhileRunningRefusesAndLeavesTheStackAlone
run_test loadCountsFallbacksWhenTheGreeterAppIsDown
run_test localDownStopsEveryProcessAndFreesEveryPort
run_test secondLocalUpAfterDownWorks
run_test refusesToStartWhenAPortIsTaken
run_test aSidecarThatDiesNamesTheStepShowsItsLogAndLeavesNothingRunning
run_test anInterruptedLocalUpStopsWhatItStarted
run_test benchMeasuresEveryLayerAndCleansUp
run_test runFileRunsBothAppsWithSidecarsAndDaprStopStopsThem

say "local-up runs: ${UP_SECONDS[*]:-none}; suite took $((SECONDS - SUITE_STARTED))s"
finish
