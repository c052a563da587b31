#!/usr/bin/env bats
# The local run as a user runs it: daprd.sh, local-up (`dapr run -f .` on dapr.yaml as committed, and
# Zipkin), load.sh, local-down, bench.sh. On dapr.yaml's own ports, so not while a local run is up.
# The tests run in order: the stack the fifth starts, the eighth stops (or teardown_file).

bats_require_minimum_version 1.5.0

setup_file() {
  source "$BATS_TEST_DIRNAME/../../lib.sh"
  for port in $(local_ports); do
    ! port_in_use "$port" || { echo "port $port is in use: is a local run up? (scripts/local-down.sh)" >&2; return 1; }
  done
}
teardown_file() { "$BATS_TEST_DIRNAME/../../local-down.sh" >/dev/null 2>&1 || true; }
setup() {
  source "$BATS_TEST_DIRNAME/../../lib.sh"
  load_versions
}

# nothing_running : no process of the local run, no port of it taken.
nothing_running() {
  for port in $(local_ports); do ! port_in_use "$port" || { echo "port $port is still taken"; return 1; }; done
  ! pgrep -f "$REPO_ROOT/scripts/local/config.yaml|zipkin-server" || { echo "processes left"; return 1; }
}

@test "daprd.sh prints only the path of the pinned daprd, built with a fixed grpc-go" {
  run --separate-stderr "$SCRIPTS_DIR/daprd.sh"
  [ "$status" -eq 0 ]
  [ -x "$output" ]
  [ "$("$output" --version)" = "$DAPR_RUNTIME_VERSION" ]
  # CVE-2026-33186, a gRPC authorization bypass, is fixed in grpc-go 1.79.3.
  grpc=$(go version -m "$output" | awk '$1 == "dep" && $2 == "google.golang.org/grpc" { print $3 }')
  [ "$(printf '%s\n' v1.79.3 "$grpc" | sort -V | head -n1)" = v1.79.3 ]
}

@test "daprd.sh refuses a Go module of another Dapr version and installs nothing" {
  mkdir "$BATS_TEST_TMPDIR/mod"
  sed 's|github.com/dapr/dapr v[0-9.]*|github.com/dapr/dapr v1.16.4|' "$SCRIPTS_DIR/daprd/go.mod" >"$BATS_TEST_TMPDIR/mod/go.mod"
  DAPRD_MODULE_DIR="$BATS_TEST_TMPDIR/mod" DAPR_INSTALL_DIR="$BATS_TEST_TMPDIR/bin" run "$SCRIPTS_DIR/daprd.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *v1.16.4*"DAPR_RUNTIME_VERSION=$DAPR_RUNTIME_VERSION"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/bin/daprd" ]
}

@test "local-up refuses while a port of dapr.yaml is taken, and starts nothing" {
  python3 -m http.server --bind 127.0.0.1 3501 >/dev/null 2>&1 3>&- &
  blocker=$!
  until port_in_use 3501; do sleep 0.1; done
  run "$SCRIPTS_DIR/local-up.sh"
  kill "$blocker"
  [ "$status" -eq 1 ]
  [[ "$output" == *"port(s) in use: 3501."* ]]
  nothing_running
}

@test "a local-up that fails names its step and leaves nothing running" {
  STARTUP_TIMEOUT=1 run "$SCRIPTS_DIR/local-up.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"not healthy within 1s"*"stopped at step [4/7]"* ]]
  nothing_running
}

@test "local-up greets both ways and prints whole traces: POST /greet through both sidecars, POST /greetings through the broker to its receipt" {
  run "$SCRIPTS_DIR/local-up.sh"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *'comms answered: {"message":"Hello, Ada!","service":"greeter","fallback":false}'* ]]
  [[ "$output" == *'"status":"done","message":"Hello, Ada!"}'* ]]
  receipt=$(grep -oE 'receipt: /.*\.json$' <<<"$output" | cut -d' ' -f2)
  [ "$(jq -r .message "$receipt")" = "Hello, Ada!" ]
  mapfile -t trace_ids < <(grep -oE '^  trace [0-9a-f]{32}' <<<"$output" | awk '{ print $2 }')
  ZIPKIN_PORT=9411 run trace_problems "${trace_ids[0]}"
  [ -z "$output" ] || { echo "$output"; false; }
  ZIPKIN_PORT=9411 run trace_problems "${trace_ids[1]}" "${ASYNC_TRACE_EDGES[@]}"
  [ -z "$output" ] || { echo "$output"; false; }
}

@test "a second local-up refuses and leaves the first running" {
  run "$SCRIPTS_DIR/local-up.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"port(s) in use"* ]]
  curl -fsS -X POST localhost:8080/greet -H 'Content-Type: application/json' -d '{"name":"Ada"}'
}

@test "load.sh: 100 requests, 10 at a time, all greeted by greeter" {
  run "$SCRIPTS_DIR/load.sh" -n 100 -c 10
  [ "$status" -eq 0 ]
  [[ "$output" == *"successes:  100"$'\n'"fallbacks:  0"$'\n'"errors:     0"* ]]
}

@test "dapr stop -f . stops the apps and sidecars; local-down also Zipkin, and frees every port" {
  (cd "$REPO_ROOT" && "$("$SCRIPTS_DIR/daprd.sh" dapr 2>/dev/null)" stop -f .)
  run "$SCRIPTS_DIR/local-down.sh"
  [ "$status" -eq 0 ]
  nothing_running
}

@test "bench.sh --short measures every layer and leaves nothing running" {
  run "$SCRIPTS_DIR/bench.sh" --short --out "$BATS_TEST_TMPDIR/short.json"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(jq -r '[.runs[].layer] | unique | join(" ")' "$BATS_TEST_TMPDIR/short.json")" = "async both-sidecars full greeter greeter-sidecar" ]
  # Both async runs (50/s, closed loop) timed every greeting they got accepted to done, from comms' records.
  [ "$(jq '[.runs[] | select(.layer == "async" and .success > 0 and .post_to_done_ms.done == .success and .post_to_done_ms.p99 > 0)] | length' "$BATS_TEST_TMPDIR/short.json")" -eq 2 ]
  [ "$(jq '[.runs[] | .error + .fallback] | add' "$BATS_TEST_TMPDIR/short.json")" -eq 0 ]
  nothing_running
}
