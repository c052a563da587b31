#!/usr/bin/env bash
# Benchmarks the request path layer by layer with vegeta: each app's start-to-ready time, then on the
# whole local stack (free ports) latency, throughput, success and CPU per request of every process at
# fixed rates and at the closed-loop maximum, and what the two Dapr sidecars add. Markdown on stdout,
# everything as JSON in --out. Stops all it started, also on failure or Ctrl-C.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [--short] [--out FILE]

  --short     a quick check that the benchmark runs (RATES=50 DURATION=3 WARMUP=3, closed loop 2 s,
              1 start-up sample); its numbers mean little
  --out FILE  the JSON results (default target/bench/bench.json under the repository)

Environment:
  RATES        open-loop rates in requests/s, per layer (default "100 300 600")
  DURATION     seconds per rate and for the closed loop (default 20)
  WARMUP       seconds of 300 requests/s through comms before measuring (default 180: by then the
               JIT's compiler threads take 1-3% of the apps' CPU in the measured runs)
  MAX_WORKERS  concurrent requests of the closed loop (default 16)
  LAYERS       the layers to measure (default "full both-sidecars greeter-sidecar greeter")
  APP_JAVA_OPTS  the apps' JVM flags (default: the container image's, from pom.xml)

Layers, each POST {"name":"Ada"}: greeter (the app), greeter-sidecar (through greeter's daprd),
both-sidecars (comms' daprd -> greeter's daprd -> greeter), full (comms and both sidecars).
Exits 1 when a request errored or the stack failed. Takes about 9 minutes; --short about 1.
EOF
}

COMMAND=$(_format_cmd "$SCRIPT_NAME" "$@")
SHORT=false
OUT="$REPO_ROOT/target/bench/bench.json"
while (($#)); do
  case "$1" in
    --short) SHORT=true ;;
    --out) (($# > 1)) || die "--out needs a file"; OUT=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [[ "$SHORT" == true ]]; then
  RATES="${RATES:-50}" DURATION="${DURATION:-3}" WARMUP="${WARMUP:-3}" CLOSED_SECONDS=2 SAMPLES=1
else
  RATES="${RATES:-100 300 600}" DURATION="${DURATION:-20}" WARMUP="${WARMUP:-180}" CLOSED_SECONDS=$DURATION SAMPLES=3
fi
MAX_WORKERS="${MAX_WORKERS:-16}"
# The full path first: the warm-up was its traffic, and comms idles while the other layers run.
read -r -a layers <<<"${LAYERS:-full both-sidecars greeter-sidecar greeter}"
for v in "${layers[@]}"; do
  [[ "$v" =~ ^(full|both-sidecars|greeter-sidecar|greeter)$ ]] || die "LAYERS: unknown layer '$v'"
done
read -r -a rates <<<"$RATES"
((${#rates[@]})) || die "RATES is empty"
for v in "${rates[@]}" "$DURATION" "$WARMUP" "$MAX_WORKERS"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "RATES, DURATION, WARMUP and MAX_WORKERS must be positive integers, got '$v'"
done

need_tools java curl jq getconf awk paste
load_versions
need_version VEGETA_VERSION
VEGETA=$(go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION")
JVM_FLAGS="${APP_JAVA_OPTS:-$(app_jvm_flags)}"
export APP_JAVA_OPTS="$JVM_FLAGS"
read -r -a jvm_flags <<<"$JVM_FLAGS"
HZ=$(getconf CLK_TCK)
DAPR_PUBLISHED="Dapr's benchmark (docs.dapr.io, Service invocation performance): the two sidecars add about 1.40 ms at p90 and 2.10 ms at p99, at 1000 requests/s with 0.5 vCPU per sidecar, mTLS and tracing sampled at 0.1; a sidecar uses 0.48 vCPU per 1000 requests/s (0.48 ms CPU per request)"
STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$(dirname "$OUT")"

# Everything this run starts names BENCH_DIR on its command line (the stack's run dir is inside it,
# the start-up JVMs carry it as a property), so a leftover is easy to find.
BENCH_DIR=""
make_temp_dir BENCH_DIR
STACK_DIR="$BENCH_DIR/stack"
RUNS="$BENCH_DIR/runs.jsonl"
BODY="$BENCH_DIR/body.json"
printf '{"name":"Ada"}' >"$BODY"
log "run dir $BENCH_DIR"

APP_PID=""
STACK_STARTED=false
# Runs before lib.sh's own exit handler, which then removes BENCH_DIR.
cleanup() {
  local rc=$?
  if [[ -n "$APP_PID" ]]; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
  fi
  if [[ "$STACK_STARTED" == true ]]; then
    LOCAL_RUN_DIR="$STACK_DIR" "$SCRIPTS_DIR/local-down.sh" || rc=1
  fi
  _lib_on_exit || true
  exit "$rc"
}
trap cleanup EXIT

now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# ---------------------------------------------------------------- the apps' start-to-ready time

if apps_stale; then
  log "building the jars (./mvnw -B -q -DskipTests package)"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package) >&2 || die "the Maven build failed"
fi
declare -A app_jar
app_jar[comms]=$(unpacked_jar comms-service)
app_jar[greeter]=$(unpacked_jar greeter-service)

# daprd now too, so that a first build of it is over before anything is timed.
DAPRD="${DAPRD:-$("$SCRIPTS_DIR/daprd.sh")}"
export DAPRD

# ready_ms APP : starts the app's jar alone and sets READY_MS to the time until its readiness is 200.
ready_ms() {
  local app=$1 port started deadline
  port=$(free_ports 1)
  started=$(now_ms)
  APP_API_TOKEN=$(random_hex 32) SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$port java "-Ddapr-tracing-demo.bench-dir=$BENCH_DIR" "${jvm_flags[@]}" \
    -jar "${app_jar[$app]}" >"$BENCH_DIR/$app-start.log" 2>&1 &
  APP_PID=$!
  deadline=$((started + 60000))
  until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/actuator/health/readiness"; do
    kill -0 "$APP_PID" 2>/dev/null || { tail -n 20 "$BENCH_DIR/$app-start.log" >&2; die "$app exited while starting"; }
    (($(now_ms) < deadline)) || die "$app was not ready within 60 s"
    sleep 0.05
  done
  READY_MS=$(($(now_ms) - started))
  kill -TERM "$APP_PID"
  wait "$APP_PID" || true
  APP_PID=""
}

startup='{}'
for app in greeter comms; do
  samples=()
  for ((i = 1; i <= SAMPLES; i++)); do
    ready_ms "$app"
    info "$app ready in $READY_MS ms (sample $i of $SAMPLES)"
    samples+=("$READY_MS")
  done
  startup=$(jq -c --arg app "$app" '.[$app] = {samples_ms: $ARGS.positional, median_ms: ($ARGS.positional | sort | .[length / 2 | floor])}' \
    --jsonargs "${samples[@]}" <<<"$startup")
done

# ---------------------------------------------------------------- the stack

use_free_local_up_ports
log "starting the stack with scripts/local-up.sh on free ports (comms on $COMMS_PORT)"
STACK_STARTED=true
LOCAL_RUN_DIR="$STACK_DIR" "$SCRIPTS_DIR/local-up.sh" >"$BENCH_DIR/local-up.out" 2>&1 \
  || { tail -n 40 "$BENCH_DIR/local-up.out" >&2; die "local-up failed"; }
PROCS=(comms comms-daprd greeter-daprd greeter zipkin)
# This run's tokens, which local-up made: the sidecars' API wants the API token, greeter the app token.
# shellcheck source=/dev/null
source "$STACK_DIR/tokens.env"
declare -A PID=()
while read -r name pid; do PID[$name]=$pid; done <"$STACK_DIR/pids"

# cpu_ticks_all : "NAME TICKS" per process, utime + stime (fields 14 and 15 of /proc/PID/stat); TICKS
# is "-" for a process that died: it is named with its log once, and the runs go on so that what was
# measured is still reported (the script then exits 1).
cpu_ticks_all() {
  local name stat f
  for name in "${PROCS[@]}"; do
    stat=$(cat "/proc/${PID[$name]}/stat" 2>/dev/null) || stat=""
    read -r -a f <<<"${stat##*) }" # after the command name, which may hold spaces: f[0] is field 3
    if [[ -n "$stat" && "${f[0]}" != Z ]]; then
      echo "$name $((f[11] + f[12]))"
      continue
    fi
    if [[ ! -e "$BENCH_DIR/died-$name" ]]; then
      touch "$BENCH_DIR/died-$name"
      tail -n 20 "$STACK_DIR/logs/$name.log" >&2
      warn "$name (pid ${PID[$name]}) is no longer running (the end of its log is above)"
    fi
    echo "$name -"
  done
}

layer_url() {
  case "$1" in
    greeter) echo "http://127.0.0.1:$GREETER_PORT/greet" ;;
    greeter-sidecar) echo "http://127.0.0.1:$GREETER_DAPR_HTTP_PORT/v1.0/invoke/greeter/method/greet" ;;
    both-sidecars) echo "http://127.0.0.1:$COMMS_DAPR_HTTP_PORT/v1.0/invoke/greeter/method/greet" ;;
    full) echo "http://127.0.0.1:$COMMS_PORT/greet" ;;
  esac
}

layer_token() {
  case "$1" in
    greeter) echo "$APP_API_TOKEN" ;;
    greeter-sidecar | both-sidecars) echo "$DAPR_API_TOKEN" ;;
  esac
}

# attack LAYER RATE SECONDS [VEGETA FLAGS...] : results into $BENCH_DIR/results.bin (RATE 0: closed loop).
# The token goes in the target (vegeta's http format) rather than on vegeta's command line.
attack() {
  local token
  token=$(layer_token "$1")
  { echo "POST $(layer_url "$1")"; [[ -z "$token" ]] || echo "dapr-api-token: $token"; } \
    | "$VEGETA" attack -rate="$2" -duration="$3s" -timeout=10s "${@:4}" \
      -header 'Content-Type: application/json' -body "$BODY" -output "$BENCH_DIR/results.bin"
}

# From each answer's body: greeter's answer is a success (for full, only with "fallback":false),
# comms' fallback a fallback, anything else an error.
# shellcheck disable=SC2016 # a jq program: $b and $full are jq's
CLASSIFY='reduce (inputs | ((.body // "") | @base64d | try fromjson catch null) as $b
  | if .code != 200 or ($b | type) != "object" then "error"
    elif $full and $b.fallback == true then "fallback"
    elif $b.service == "greeter" and ($full | not or $b.fallback == false) then "success"
    else "error" end) as $k ({success: 0, fallback: 0, error: 0}; .[$k] += 1)'

# measure LAYER RATE SECONDS [VEGETA FLAGS...] : one measured attack, appended to $RUNS as a JSON line.
measure() {
  local layer=$1 rate=$2 before after report counts cpu
  before=$(cpu_ticks_all)
  attack "$@"
  after=$(cpu_ticks_all)
  report=$("$VEGETA" report -type=json "$BENCH_DIR/results.bin")
  counts=$("$VEGETA" encode --to json "$BENCH_DIR/results.bin" \
    | jq -nc --argjson full "$([[ $layer == full ]] && echo true || echo false)" "$CLASSIFY")
  cpu=$(paste -d' ' <(echo "$before") <(echo "$after") | jq -Rnc --argjson hz "$HZ" --argjson n "$(jq .requests <<<"$report")" \
    '[inputs | split(" ") | {key: .[0], value: (if .[3] == "-" or .[1] == "-" then null
      else ((.[3] | tonumber) - (.[1] | tonumber)) * 1000 / $hz / ([$n, 1] | max) * 1000 | round / 1000 end)}] | from_entries')
  jq -nc --arg layer "$layer" --argjson rate "$rate" --argjson seconds "$3" --argjson workers "$([[ $rate == 0 ]] && echo "$MAX_WORKERS" || echo null)" \
    --argjson r "$report" --argjson counts "$counts" --argjson cpu "$cpu" '
    def ms: . / 1e4 | round / 100;
    {layer: $layer, mode: (if $rate == 0 then "closed" else "open" end), rate: (if $rate == 0 then null else $rate end),
     workers: $workers, duration_s: $seconds, requests: $r.requests, throughput: ($r.throughput * 10 | round / 10),
     latency_ms: {p50: ($r.latencies["50th"] | ms), p90: ($r.latencies["90th"] | ms), p99: ($r.latencies["99th"] | ms), max: ($r.latencies.max | ms)},
     cpu_ms_per_request: $cpu} + $counts' | tee -a "$RUNS" \
    | jq -r '"\(.layer) at \(if .rate then "\(.rate)/s" else "max (\(.workers) workers)" end): \(.requests) requests, \(.throughput)/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, \(.success) ok \(.fallback) fallback \(.error) errors"' \
    | while read -r line; do info "$line"; done
}

log "warm-up: 300 requests/s through comms for ${WARMUP}s (not measured)"
attack full 300 "$WARMUP"
log "measuring: layers ${layers[*]} at ${rates[*]}/s for ${DURATION}s each, then the closed loop"
for layer in "${layers[@]}"; do
  for rate in "${rates[@]}"; do measure "$layer" "$rate" "$DURATION"; done
  measure "$layer" 0 "$CLOSED_SECONDS" -workers="$MAX_WORKERS" -max-workers="$MAX_WORKERS"
done

memory='{}' died=()
for name in "${PROCS[@]}"; do
  [[ ! -e "$BENCH_DIR/died-$name" ]] || { died+=("$name"); continue; }
  memory=$(jq -c --arg name "$name" --argjson hwm "$(awk '/^VmHWM/ { print $2 }' "/proc/${PID[$name]}/status")" \
    --argjson rss "$(awk '/^VmRSS/ { print $2 }' "/proc/${PID[$name]}/status")" \
    --argjson anon "$(awk '/^RssAnon/ { print $2 }' "/proc/${PID[$name]}/status")" \
    '.[$name] = {peak_rss_mib: ($hwm / 1024 | round), rss_mib: ($rss / 1024 | round), anon_rss_mib: ($anon / 1024 | round)}' <<<"$memory")
done

# ---------------------------------------------------------------- report

jq -s --arg command "$COMMAND" --arg run_dir "$BENCH_DIR" --arg started "$STARTED_AT" --argjson elapsed "$SECONDS" \
  --argjson nproc "$(nproc)" --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
  --arg daprd "$("$DAPRD" --version)" --arg jvm "$JVM_FLAGS" --arg vegeta "$VEGETA_VERSION" \
  --argjson startup "$startup" --argjson memory "$memory" --argjson rates "$(jq -nc '$ARGS.positional' --jsonargs "${rates[@]}")" \
  --argjson duration "$DURATION" --argjson warmup "$WARMUP" --argjson workers "$MAX_WORKERS" --argjson closed "$CLOSED_SECONDS" \
  --arg published "$DAPR_PUBLISHED" --argjson died "$(jq -nc '$ARGS.positional' --args "${died[@]+"${died[@]}"}")" '
  . as $runs
  | [$runs[] | select(.mode == "open")] as $open
  | {command: $command, started: $started, elapsed_s: $elapsed, run_dir: $run_dir,
     machine: {nproc: $nproc, cpu: $cpu}, daprd_version: $daprd, vegeta_version: $vegeta, jvm_flags: $jvm,
     settings: {rates: $rates, duration_s: $duration, warmup_s: $warmup, max_workers: $workers, closed_loop_s: $closed},
     startup: $startup, memory: $memory, died: $died, runs: $runs,
     sidecars_add: [$open[] | select(.layer == "both-sidecars") | . as $b
       | ($open[] | select(.layer == "greeter" and .rate == $b.rate)) as $g
       | {rate: $b.rate,
          added_ms: ($b.latency_ms | del(.max) | with_entries(.value = ((.value - $g.latency_ms[.key]) * 100 | round / 100))),
          sidecar_cpu_ms_per_request: ($b.cpu_ms_per_request | {"comms-daprd", "greeter-daprd"})}],
     dapr_published: $published}' \
  "$RUNS" >"$OUT"
log "results: $OUT"

jq -r '
  def r2: if type == "number" then . * 100 | round / 100 else . end;
  def row: "| " + (map(if . == null then "-" else r2 | tostring end) | join(" | ")) + " |";
  def path: {greeter: "client -> greeter app", "greeter-sidecar": "client -> greeter daprd -> greeter app",
    "both-sidecars": "client -> comms daprd -> greeter daprd -> greeter app", full: "client -> comms app -> comms daprd -> greeter daprd -> greeter app"};
  . as $all
  | "# scripts/bench.sh, \(.started)", "",
    "- machine: \(.machine.nproc) CPUs, \(.machine.cpu); vegeta \(.vegeta_version) runs on the same CPUs",
    "- daprd \(.daprd_version); the apps JVM flags: `\(.jvm_flags)`",
    "- command: `\(.command)` with RATES=\"\(.settings.rates | join(" "))\" DURATION=\(.settings.duration_s) WARMUP=\(.settings.warmup_s) MAX_WORKERS=\(.settings.max_workers) (closed loop \(.settings.closed_loop_s) s)",
    "- latencies are vegeta estimates; CPU is per request sent, from /proc (utime + stime)",
    (select(.died != []) | "- **died during the runs: \(.died | join(", "))**"),
    (("greeter", "greeter-sidecar", "both-sidecars", "full") as $layer
      | "", "## \($layer): \(path[$layer])", "",
        "| rate /s | throughput /s | p50 ms | p90 ms | p99 ms | max ms | success | fallback | error | CPU ms/req comms | comms-daprd | greeter-daprd | greeter | zipkin |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ($all.runs[] | select(.layer == $layer)
          | [.rate // "max, \(.workers) workers", .throughput, .latency_ms.p50, .latency_ms.p90, .latency_ms.p99, .latency_ms.max,
             .success, .fallback, .error] + (.cpu_ms_per_request | [.comms, ."comms-daprd", ."greeter-daprd", .greeter, .zipkin]) | row)),
    "", "## Start-to-ready (idle machine) and memory (after all runs)", "",
    "| process | start-to-ready ms, median | samples ms | peak RSS MiB | RSS MiB | of it anonymous MiB |", "|---|---|---|---|---|---|",
    (.memory + (.died | map({key: ., value: {}}) | from_entries) | to_entries[] | [.key, $all.startup[.key].median_ms, ($all.startup[.key].samples_ms | if . then join(" ") else null end), .value.peak_rss_mib, .value.rss_mib, .value.anon_rss_mib] | row),
    "", "## What the two sidecars add: both-sidecars minus greeter", "",
    "| rate /s | p50 ms | p90 ms | p99 ms | CPU ms/req comms-daprd | greeter-daprd |", "|---|---|---|---|---|---|",
    (.sidecars_add[] | [.rate, .added_ms.p50, .added_ms.p90, .added_ms.p99, .sidecar_cpu_ms_per_request."comms-daprd", .sidecar_cpu_ms_per_request."greeter-daprd"] | row),
    "", "For comparison, \(.dapr_published)."' "$OUT"

((${#died[@]} == 0)) || die "the stack failed: ${died[*]} died during the runs"
errors=$(jq '[.runs[].error] | add' "$OUT")
((errors == 0)) || die "$errors requests errored (see the error column above)"
