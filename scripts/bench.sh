#!/usr/bin/env bash
# Benchmarks the request path layer by layer with vegeta on the real local stack, or soaks it (see usage).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/bench.sh [--short | --soak] [--out FILE]
       scripts/bench.sh --summary FILE...

  --short     a quick check that the benchmark runs (RATES=50 DURATION=3, WARMUP=3 s at 50/s, closed
              loop 2 s, 1 start-up sample); its numbers mean little
  --soak      sustained load, as scripts/test.sh soak runs it: LAYERS=full RATES=400 DURATION=150
              after WARMUP=30 s at 100/s, then 30 s at 250/s; no start-up samples, no closed loop;
              about 4.5 minutes. Then checks that every request was greeter's answer without
              fallback or comms' 503 refusal past its limit (RATES=1000: an overload soak), that
              Zipkin idles again (below IDLE_MAX_PERCENT % of a core, default 5, over 10 s from 5 s
              after the load) and answers /health, and that comms still answers and its trace
              reaches Zipkin whole
  --out FILE  the JSON results (default target/bench/MODE.json: bench.json, short.json, soak.json)
  --summary   the minimum, median and maximum of each figure over the JSON results of several runs

Environment:
  RATES        open-loop rates in requests/s, per layer (default "100 300 600")
  DURATION     seconds per rate and for the closed loop (default 20)
  WARMUP       seconds of 300 requests/s through comms before measuring (default 180: by then the
               JIT's compiler threads take 1-3% of the apps' CPU in the measured runs)
  MAX_WORKERS  concurrent requests of the closed loop (default 16)
  LAYERS       the layers to measure (default "full async both-sidecars greeter-sidecar greeter")
  ASYNC_RATES  open-loop rates of the async layer (default "100 300"; --short 50)

Layers, each POST {"name":"Ada"}: greeter (the app), greeter-sidecar (through greeter's daprd),
both-sidecars (comms' daprd -> greeter's daprd -> greeter), full (comms and both sidecars), and async:
POST /greetings, timed from comms' acceptance to the greeting done, by comms' own record of both in
Redis (createdAt, doneAt), once every accepted greeting is done; its CPU counts until then, Redis too.
Exits 1 when a request errored, a process died, local-down left one running,
or a --soak check failed. Takes about 9 minutes; --short about 1.
EOF
}

# summary FILE... : each figure of several runs' results as "min / median / max".
summary() {
  jq -rs '
    def mmm: map(select(. != null)) | sort | if length == 0 then "-" else "\(.[0]) / \(.[length / 2 | floor]) / \(.[-1])" end;
    def row: "| " + join(" | ") + " |";
    . as $all
    | "# scripts/bench.sh, \(length) runs: min / median / max", "",
    (["layer", "rate /s", "p50 ms", "p99 ms", "comms CPU ms/req", "all processes CPU ms/req", "not greeted"] | row, (map("---") | row)),
    ([.[].runs[] | select(.mode == "open")] | group_by([.layer, .rate])[]
      | [.[0].layer, "\(.[0].rate)", (map(.latency_ms.p50) | mmm), (map(.latency_ms.p99) | mmm),
         (map(.cpu_ms_per_request.comms) | mmm), (map([.cpu_ms_per_request[] // 0] | add * 1000 | round / 1000) | mmm),
         (map(.requests - .success) | mmm)] | row),
    "", (["process", "start to ready ms", "first 100 after start: p99 ms", "max ms", "peak RSS MiB", "RSS MiB"] | row, (map("---") | row)),
    ([$all[] | (.memory | keys[]), (.startup | keys[])] | unique[] as $p
      | [$p, ([$all[].startup[$p].median_ms] | mmm), ([$all[].startup[$p].first_burst[]?.p99_ms] | mmm),
         ([$all[].startup[$p].first_burst[]?.max_ms] | mmm), ([$all[].memory[$p].peak_rss_mib] | mmm),
         ([$all[].memory[$p].rss_mib] | mmm)] | row)' "$@"
}

COMMAND=$(_format_cmd "$SCRIPT_NAME" "$@")
MODE=bench OUT=""
while (($#)); do
  case "$1" in
    --short | --soak) MODE=${1#--} ;;
    --out) (($# > 1)) || die "--out needs a file"; OUT=$2; shift ;;
    --summary) shift; (($#)) || die "--summary needs the JSON results of runs"; summary "$@"; exit ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
# Each mode's defaults, its warm-up rates, closed-loop seconds (0: none) and start-up samples. The
# soak and --short warm up slower: JIT-cold JVMs need several times their warm CPU per request, and a
# queue on two cores shared by five servers and vegeta times out calls; enough of them open comms'
# circuit breaker, and --short would then measure nothing but fallbacks.
case "$MODE" in
  short) : "${RATES:=50}" "${ASYNC_RATES:=50}" "${DURATION:=3}" "${WARMUP:=3}"; WARM_RATES=(50) CLOSED_SECONDS=2 SAMPLES=1 ;;
  soak) : "${RATES:=400}" "${DURATION:=150}" "${WARMUP:=30}" "${LAYERS:=full}"; WARM_RATES=(100 250) CLOSED_SECONDS=0 SAMPLES=0 ;;
  *) : "${RATES:=100 300 600}" "${DURATION:=20}" "${WARMUP:=180}"; WARM_RATES=(300) CLOSED_SECONDS=$DURATION SAMPLES=5 ;;
esac
MAX_WORKERS="${MAX_WORKERS:-16}" IDLE_MAX_PERCENT="${IDLE_MAX_PERCENT:-5}"
# The full path first: the warm-up was its traffic, and comms idles while the other layers run.
read -r -a layers <<<"${LAYERS:-full async both-sidecars greeter-sidecar greeter}"
[[ "${layers[*]}" =~ ^((full|async|both-sidecars|greeter-sidecar|greeter)( |$))+$ ]] || die "LAYERS: unknown layer in '${layers[*]}'"
read -r -a rates <<<"$RATES"
read -r -a async_rates <<<"${ASYNC_RATES:-100 300}"
for v in "${rates[0]:-}" "${rates[@]}" "${async_rates[0]:-}" "${async_rates[@]}" "$DURATION" "$WARMUP" "$MAX_WORKERS" "$IDLE_MAX_PERCENT"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "RATES, ASYNC_RATES, DURATION, WARMUP, MAX_WORKERS and IDLE_MAX_PERCENT must be positive integers, got '$v'"
done

need_tools java curl jq getconf awk paste pgrep
use_java_25
load_versions
need_version VEGETA_VERSION
VEGETA=$(go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION")
JVM_FLAGS=$(app_jvm_flags)
HZ=$(getconf CLK_TCK)
DAPR_PUBLISHED="Dapr's benchmark (docs.dapr.io, Service invocation performance): the two sidecars add about 1.40 ms at p90 and 2.10 ms at p99, at 1000 requests/s with 0.5 vCPU per sidecar, mTLS and tracing sampled at 0.1; a sidecar uses 0.48 vCPU per 1000 requests/s (0.48 ms CPU per request)"
STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
OUT="${OUT:-$REPO_ROOT/target/bench/$MODE.json}"
mkdir -p "$(dirname "$OUT")"

BENCH_DIR=""
make_temp_dir BENCH_DIR
RUNS="$BENCH_DIR/runs.jsonl" BODY="$BENCH_DIR/body.json"
printf '{"name":"Ada"}' >"$BODY"
STACK_UP=false
# Runs before lib.sh's own exit handler, which then removes BENCH_DIR.
cleanup() {
  local rc=$?
  [[ "$STACK_UP" == false ]] || "$SCRIPTS_DIR/local-down.sh" >&2 || rc=1
  _lib_on_exit || true
  exit "$rc"
}
trap cleanup EXIT

# What the run found wrong; it goes on, so that what was measured is still reported, then exits 1.
problems=()
problem() { warn "$*"; problems+=("$*"); }
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

# ---------------------------------------------------------------- the apps' start-to-ready time

if apps_stale; then
  log "building the jars (./mvnw -B -q -DskipTests package)"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package) >&2 || die "the Maven build failed"
fi
# daprd now too, so that a first build of it is over before anything is timed.
DAPRD="${DAPRD:-$("$SCRIPTS_DIR/daprd.sh")}"
export DAPRD

# burst TARGET : 100 requests, 10 at a time (the seed's xargs load), to TARGET (vegeta's http format);
# prints their latencies and how many succeeded, as JSON. The attack ends with its 100 targets (-lazy).
burst() {
  for _ in $(seq 100); do printf '%s\n\n' "$1"; done |
    "$VEGETA" attack -lazy -rate=0 -workers=10 -max-workers=10 -timeout=10s \
      -header 'Content-Type: application/json' -body "$BODY" | "$VEGETA" report -type=json |
    jq -c 'def ms: . / 1e4 | round / 100; {p50_ms: (.latencies["50th"] | ms), p99_ms: (.latencies["99th"] | ms),
      max_ms: (.latencies.max | ms), success: (.success * .requests | round)}'
}

# start_sample APP : starts the app's jar alone, as dapr.yaml does, and sets READY_MS to the time until
# its readiness is 200; for greeter, FIRST_BURST to the latencies of the first 100 requests after it.
start_sample() {
  local app=$1 port started deadline pid token
  port=$(free_ports 1) token=$(random_hex 32) FIRST_BURST=""
  started=$(now_ms)
  (cd "$REPO_ROOT/$app-service" && APP_API_TOKEN=$token SERVER_ADDRESS=127.0.0.1 SERVER_PORT=$port exec java \
    "@$SCRIPTS_DIR/jvm.options" -jar "target/$app-service.jar") >"$BENCH_DIR/$app-start.log" 2>&1 &
  pid=$!
  deadline=$((started + 60000))
  until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/actuator/health/readiness"; do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$BENCH_DIR/$app-start.log" >&2; die "$app exited while starting"; }
    (($(now_ms) < deadline)) || die "$app was not ready within 60 s"
    sleep 0.05
  done
  READY_MS=$(($(now_ms) - started))
  # comms alone would answer its fallback: its first burst is measured on the whole stack, below.
  [[ "$app" != greeter ]] || FIRST_BURST=$(burst "$(printf 'POST http://127.0.0.1:%s/greet\ndapr-api-token: %s' "$port" "$token")")
  kill -TERM "$pid"
  wait "$pid" || true
}

startup='{}'
for app in greeter comms; do
  for ((i = 1; i <= SAMPLES; i++)); do
    start_sample "$app"
    info "$app ready in $READY_MS ms (sample $i of $SAMPLES)${FIRST_BURST:+; the first 100 requests: $FIRST_BURST}"
    startup=$(jq -c --arg app "$app" --argjson ms "$READY_MS" --argjson burst "${FIRST_BURST:-null}" \
      '.[$app].samples_ms += [$ms] | .[$app].median_ms = (.[$app].samples_ms | sort | .[length / 2 | floor])
       | if $burst then .[$app].first_burst += [$burst] else . end' <<<"$startup")
  done
done

# ---------------------------------------------------------------- the stack

# The app token, which greeter wants from its caller (the local sidecars' API wants none).
APP_API_TOKEN=$(random_hex 32)
register_secret "$APP_API_TOKEN"
log "starting the stack with scripts/local-up.sh"
STACK_UP=true
APP_API_TOKEN=$APP_API_TOKEN "$SCRIPTS_DIR/local-up.sh" \
  >"$BENCH_DIR/local-up.out" 2>&1 || { tail -n 40 "$BENCH_DIR/local-up.out" >&2; die "local-up failed"; }
# dapr.yaml's ports, and each process by the port it serves.
COMMS_PORT=8080 COMMS_DAPR_HTTP_PORT=3500 GREETER_PORT=8081 GREETER_DAPR_HTTP_PORT=3501 ZIPKIN_PORT=9411
declare -A PID=()
for name in comms:8080 comms-daprd:3500 greeter-daprd:3501 greeter:8081 zipkin:9411 "redis:$LOCAL_REDIS_PORT"; do
  PID[${name%:*}]=$(ss -Hltnp "sport = :${name#*:}" | grep -om1 'pid=[0-9]*' | cut -d= -f2)
done
PROCS=("${!PID[@]}")
# The first 100 requests through comms after local-up's one greeting: JVMs just started, as after a deploy.
startup=$(jq -c --argjson burst "$(burst "POST http://127.0.0.1:$COMMS_PORT/greet")" '.full.first_burst = [$burst]' <<<"$startup")
info "the first 100 requests through comms: $(jq -c .full.first_burst[0] <<<"$startup")"

# cpu_ticks NAME : utime + stime of the stack's process NAME (fields 14 and 15 of /proc/PID/stat), or
# null once it died: then it is named with the end of its log, once.
cpu_ticks() {
  local stat f
  stat=$(cat "/proc/${PID[$1]}/stat" 2>/dev/null) || stat=""
  read -r -a f <<<"${stat##*) }" # after the command name, which may hold spaces: f[0] is field 3
  if [[ -n "$stat" && "${f[0]}" != Z ]]; then echo $((f[11] + f[12])) && return; fi
  [[ -e "$BENCH_DIR/died-$1" ]] || { touch "$BENCH_DIR/died-$1"; tail -n 20 "$LOCAL_STATE/dapr.log" >&2
    warn "$1 (pid ${PID[$1]}) is no longer running (the end of its log is above)"; }
  echo null
}
cpu_ticks_all() { local n; for n in "${PROCS[@]}"; do echo "{\"$n\": $(cpu_ticks "$n")}"; done | jq -sc add; }

# target LAYER : the layer's request in vegeta's http format, greeter's token there rather than on vegeta's command line.
target() {
  case "$1" in
    greeter) printf 'POST http://127.0.0.1:%s/greet\ndapr-api-token: %s\n' "$GREETER_PORT" "$APP_API_TOKEN" ;;
    greeter-sidecar) printf 'POST http://127.0.0.1:%s/v1.0/invoke/greeter/method/greet\n' "$GREETER_DAPR_HTTP_PORT" ;;
    both-sidecars) printf 'POST http://127.0.0.1:%s/v1.0/invoke/greeter/method/greet\n' "$COMMS_DAPR_HTTP_PORT" ;;
    full) printf 'POST http://127.0.0.1:%s/greet\n' "$COMMS_PORT" ;;
    async) printf 'POST http://127.0.0.1:%s/greetings\n' "$COMMS_PORT" ;;
  esac
}

# attack LAYER RATE SECONDS [VEGETA FLAGS...] : results into $BENCH_DIR/results.bin (RATE 0: closed loop).
attack() {
  target "$1" | "$VEGETA" attack -rate="$2" -duration="$3s" -timeout=10s "${@:4}" \
    -header 'Content-Type: application/json' -body "$BODY" -output "$BENCH_DIR/results.bin"
}

# From each answer's body: greeter's answer is a success (for full, only with "fallback":false; for
# async, a 202 with the greeting's id), comms' fallback a fallback, its 503 problem when at its limit a
# refusal, anything else an error (vegeta's report names its status and error).
# shellcheck disable=SC2016 # a jq program: $b and $full are jq's
CLASSIFY='reduce (inputs | ((.body // "") | @base64d | (try fromjson catch null) | objects // {}) as $b
  | if .code == 200 and $b.service == "greeter" and ($full | not or $b.fallback == false) then "success"
    elif .code == 202 and ($b.id | type) == "string" then "success"
    elif .code == 200 and $full and $b.fallback == true then "fallback"
    elif .code == 503 and $full and $b.status == 503 then "refused" else "error" end) as $k
  ({success: 0, fallback: 0, refused: 0, error: 0}; .[$k] += 1)'

# completion : once every greeting the last attack got accepted is done (5 minutes at most: a closed loop
# leaves a backlog), their POST-to-done latencies as JSON, from comms' own records in Redis (createdAt to doneAt).
completion() {
  local ids="$BENCH_DIR/ids" deadline=$((SECONDS + 300)) records
  "$VEGETA" encode --to json "$BENCH_DIR/results.bin" | jq -r 'select(.code == 202) | .body | @base64d | fromjson | .id' >"$ids"
  # The last accepted first (it is most likely the last done), then all of them once, again until done.
  until [[ ! -s "$ids" ]] || [[ "$(redis HGET "comms||$(tail -n1 "$ids")" data | jq -r .status)" == "done" ]] || ((SECONDS > deadline)); do sleep 0.2; done
  while records=$(sed 's/.*/HGET comms||& data/' "$ids" | redis | jq -sc .) &&
    jq -e 'any(.[]; .status != "done")' <<<"$records" >/dev/null && ((SECONDS <= deadline)); do sleep 1; done
  jq -c 'def ms: capture("^(?<s>[^.Z]+)(?<f>\\.[0-9]+)?Z$") | ((.s + "Z") | fromdateiso8601) * 1000 + ((.f // "0") | tonumber) * 1000;
    length as $n | [.[] | select(.status == "done") | (.doneAt | ms) - (.createdAt | ms)] | sort as $l
    | def at(q): if $l == [] then null else $l[($l | length) * q | floor] | round end;
    {done: ($l | length), not_done: ($n - ($l | length)), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1 - 1e-9)}' <<<"$records"
}
redis() { "$(dirname "$(redis_server)")/redis-cli" -p "$LOCAL_REDIS_PORT" "$@"; }

# measure LAYER RATE SECONDS [VEGETA FLAGS...] : one measured attack, appended to $RUNS as a JSON line.
measure() {
  local layer=$1 rate=$2 before after report counts run completion=null
  before=$(cpu_ticks_all)
  attack "$@"
  LOAD_ENDED=$SECONDS
  [[ "$layer" != async ]] || completion=$(completion)
  after=$(cpu_ticks_all)
  report=$("$VEGETA" report -type=json "$BENCH_DIR/results.bin")
  counts=$("$VEGETA" encode --to json "$BENCH_DIR/results.bin" \
    | jq -nc --argjson full "$([[ $layer == full ]] && echo true || echo false)" "$CLASSIFY")
  run=$(jq -nc --arg layer "$layer" --argjson rate "$rate" --argjson seconds "$3" --argjson workers "$([[ $rate == 0 ]] && echo "$MAX_WORKERS" || echo null)" \
    --argjson r "$report" --argjson counts "$counts" --argjson before "$before" --argjson after "$after" --argjson hz "$HZ" \
    --argjson completion "$completion" '
    def ms: . / 1e4 | round / 100;
    {layer: $layer, mode: (if $rate == 0 then "closed" else "open" end), rate: (if $rate == 0 then null else $rate end),
     workers: $workers, duration_s: $seconds, requests: $r.requests, throughput: ($r.throughput * 10 | round / 10),
     latency_ms: {p50: ($r.latencies["50th"] | ms), p90: ($r.latencies["90th"] | ms), p99: ($r.latencies["99th"] | ms), max: ($r.latencies.max | ms)},
     cpu_ms_per_request: ($after | with_entries(.value = if .value and $before[.key] then
       (.value - $before[.key]) * 1000 / $hz / ([$r.requests, 1] | max) * 1000 | round / 1000 else null end))}
    + $counts + {status_codes: $r.status_codes, errors: $r.errors[:5]} + if $completion then {post_to_done_ms: $completion} else {} end')
  echo "$run" >>"$RUNS"
  info "$(jq -r '"\(.layer) at \(if .rate then "\(.rate)/s" else "max (\(.workers) workers)" end): \(.requests) requests, \(.throughput)/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, \(.success) ok \(.fallback) fallback \(.refused) refused \(.error) errors\(if .error > 0 then " (status \(.status_codes), \(.errors))" else "" end)\(if .post_to_done_ms then "; POST to done: \(.post_to_done_ms | "p50 \(.p50) ms, p99 \(.p99) ms, \(.done) done, \(.not_done) not done")" else "" end)"' <<<"$run")"
}

log "warm-up: ${WARM_RATES[*]} requests/s through comms for ${WARMUP}s each (not measured)"
for rate in "${WARM_RATES[@]}"; do attack full "$rate" "$WARMUP"; done
log "measuring: layers ${layers[*]} at ${rates[*]}/s for ${DURATION}s each, then the closed loop for ${CLOSED_SECONDS}s (0: none)"
for layer in "${layers[@]}"; do
  layer_rates=("${rates[@]}")
  if [[ "$layer" == async ]]; then
    layer_rates=("${async_rates[@]}")
    # Its own code paths warm too (not measured), at the first rate.
    attack async "${async_rates[0]}" "$((WARMUP < 60 ? WARMUP : 60))" && completion >/dev/null
  fi
  for rate in "${layer_rates[@]}"; do measure "$layer" "$rate" "$DURATION"; done
  ((CLOSED_SECONDS == 0)) || measure "$layer" 0 "$CLOSED_SECONDS" -workers="$MAX_WORKERS" -max-workers="$MAX_WORKERS"
done

# ---------------------------------------------------------------- after the load (--soak)

if [[ "$MODE" == soak ]]; then
  # Zipkin idles again once the sidecars' exporters sent what they held (within 5 s), unless its
  # storage is unbounded. A Zipkin that died (ticks null, 0 here) is a problem already.
  settle=$((LOAD_ENDED + 5 - SECONDS))
  ((settle <= 0)) || sleep "$settle"
  before=$(cpu_ticks zipkin); sleep 10; after=$(cpu_ticks zipkin)
  percent=$(awk -v b="$before" -v a="$after" -v hz="$HZ" 'BEGIN { printf "%.1f", (a - b) * 100 / hz / 10 }')
  info "Zipkin's CPU over 10s, 5s after the load: $percent% of one core (limit $IDLE_MAX_PERCENT%)"
  awk -v p="$percent" -v max="$IDLE_MAX_PERCENT" 'BEGIN { exit !(p < max) }' || problem "Zipkin does not idle: is its storage bounded (ZIPKIN_MAX_SPANS)?"
  # comms still answers, and within 60 s its trace reaches Zipkin whole.
  trace_id=$(random_hex 16)
  answer=$(curl -sS --max-time 15 -H "traceparent: 00-$trace_id-$(random_hex 8)-01" -H 'Content-Type: application/json' \
    -d "@$BODY" -w ' HTTP %{http_code}' "http://127.0.0.1:$COMMS_PORT/greet") || true
  info "comms answered: $answer"
  [[ "$answer" == *'"fallback":false'*' HTTP 200' ]] || problem "comms did not answer with greeter's answer without fallback"
  wait_for_trace "$trace_id" 60 || problem "trace $trace_id did not reach Zipkin whole within 60s: $PROBLEMS"
  curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$ZIPKIN_PORT/health" || problem "Zipkin's /health does not answer 200"
fi

# ---------------------------------------------------------------- memory, then stop the stack

died=$(for name in "${PROCS[@]}"; do [[ ! -e "$BENCH_DIR/died-$name" ]] || echo "$name"; done | paste -sd' ')
[[ -z "$died" ]] || problem "the stack failed: $died died during the runs"
memory=$(for name in "${PROCS[@]}"; do
  [[ -e "$BENCH_DIR/died-$name" ]] || awk -v name="$name" '$1 == "VmHWM:" { h = $2 } $1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 }
    END { printf "{\"%s\": {\"peak_rss_mib\": %d, \"rss_mib\": %d, \"anon_rss_mib\": %d}}\n", name, h / 1024 + .5, r / 1024 + .5, a / 1024 + .5 }' "/proc/${PID[$name]}/status"
done | jq -sc 'add // {}')

# local-down must stop every process of the stack and free its ports.
STACK_UP=false
"$SCRIPTS_DIR/local-down.sh" >&2 || problem "local-down failed"
for name in "${PROCS[@]}"; do ! kill -0 "${PID[$name]}" 2>/dev/null || problem "$name (pid ${PID[$name]}) is still running"; done
# In --soak, every request of the load must have been greeter's answer without fallback, or refused at
# once by comms past its limit: none lost.
failed_runs=$(jq -r --arg mode "$MODE" '
  select(.error > 0 or .post_to_done_ms.not_done > 0 or ($mode == "soak" and .success + .refused != (.rate // 0) * .duration_s))
  | "\(.layer) at \(.rate // "max")/s: \(.requests) requests, \(.success) ok, \(.fallback) fallbacks, \(.refused) refused, \(.error) errors (status \(.status_codes), \(.errors))\(if .post_to_done_ms.not_done > 0 then ", \(.post_to_done_ms.not_done) accepted greetings not done within 5 minutes" else "" end)"' "$RUNS")
[[ -z "$failed_runs" ]] || problem "requests failed: $failed_runs"

# ---------------------------------------------------------------- report

jq -s --arg command "$COMMAND" --arg mode "$MODE" --arg run_dir "$BENCH_DIR" --arg started "$STARTED_AT" --argjson elapsed "$SECONDS" \
  --argjson nproc "$(nproc)" --arg cpu "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
  --arg daprd "$("$DAPRD" --version)" --arg jvm "$JVM_FLAGS" --arg vegeta "$VEGETA_VERSION" \
  --argjson startup "$startup" --argjson memory "$memory" --argjson rates "$(jq -nc '$ARGS.positional' --jsonargs "${rates[@]}")" \
  --argjson duration "$DURATION" --argjson warmup "$WARMUP" --argjson workers "$MAX_WORKERS" --argjson closed "$CLOSED_SECONDS" \
  --arg published "$DAPR_PUBLISHED" --arg died "$died" \
  --argjson failed "$(jq -nc '$ARGS.positional' --args "${problems[@]+"${problems[@]}"}")" '
  . as $runs
  | [$runs[] | select(.mode == "open")] as $open
  | {command: $command, mode: $mode, started: $started, elapsed_s: $elapsed, run_dir: $run_dir,
     machine: {nproc: $nproc, cpu: $cpu}, daprd_version: $daprd, vegeta_version: $vegeta, jvm_flags: $jvm,
     settings: {rates: $rates, duration_s: $duration, warmup_s: $warmup, max_workers: $workers, closed_loop_s: $closed},
     startup: $startup, memory: $memory, died: ($died | split(" ") | map(select(. != ""))), failed: $failed, runs: $runs,
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
  def head: row, (map("---") | row);
  def path: {greeter: "client -> greeter app", "greeter-sidecar": "client -> greeter daprd -> greeter app",
    "both-sidecars": "client -> comms daprd -> greeter daprd -> greeter app", full: "client -> comms app -> comms daprd -> greeter daprd -> greeter app"};
  . as $all
  | "# scripts/bench.sh, \(.started)", "",
    "- machine: \(.machine.nproc) CPUs, \(.machine.cpu); vegeta \(.vegeta_version) runs on the same CPUs",
    "- daprd \(.daprd_version); the apps JVM flags: `\(.jvm_flags)`",
    "- command: `\(.command)` with RATES=\"\(.settings.rates | join(" "))\" DURATION=\(.settings.duration_s) WARMUP=\(.settings.warmup_s) MAX_WORKERS=\(.settings.max_workers)\(if .settings.closed_loop_s > 0 then " (closed loop \(.settings.closed_loop_s) s)" else "" end)",
    "- latencies are vegeta estimates; CPU is per request sent, from /proc (utime + stime)",
    (.failed[] | "- **failed: \(.)**"),
    (select(any(.runs[]; .layer == "async")) | "", "## async: client -> comms app -> comms daprd (state + outbox) -> Redis -> greeter daprd -> greeter app -> greeter daprd -> Redis -> comms daprd -> comms app (receipt, state)", "",
      (["rate /s", "accepted /s", "POST p50 ms", "POST p99 ms", "POST-to-done p50 ms", "p90 ms", "p99 ms", "max ms", "done", "not done", "refused", "error", "CPU ms/greeting comms", "comms-daprd", "greeter-daprd", "greeter", "redis", "zipkin", "all"] | head),
      (.runs[] | select(.layer == "async")
        | [.rate // "max, \(.workers) workers", .throughput, .latency_ms.p50, .latency_ms.p99, .post_to_done_ms.p50, .post_to_done_ms.p90, .post_to_done_ms.p99, .post_to_done_ms.max,
           .post_to_done_ms.done, .post_to_done_ms.not_done, .refused, .error]
          + (.cpu_ms_per_request | [.comms, ."comms-daprd", ."greeter-daprd", .greeter, .redis, .zipkin, ([.[] // 0] | add)]) | row)),
    (("greeter", "greeter-sidecar", "both-sidecars", "full") as $layer | select(any($all.runs[]; .layer == $layer))
      | "", "## \($layer): \(path[$layer])", "",
        (["rate /s", "throughput /s", "p50 ms", "p90 ms", "p99 ms", "max ms", "success", "fallback", "refused", "error", "CPU ms/req comms", "comms-daprd", "greeter-daprd", "greeter", "zipkin"] | head),
        ($all.runs[] | select(.layer == $layer)
          | [.rate // "max, \(.workers) workers", .throughput, .latency_ms.p50, .latency_ms.p90, .latency_ms.p99, .latency_ms.max,
             .success, .fallback, .refused, .error] + (.cpu_ms_per_request | [.comms, ."comms-daprd", ."greeter-daprd", .greeter, .zipkin]) | row)),
    "", "## Start-to-ready (idle machine) and memory (after all runs)", "",
    (["process", "start-to-ready ms, median", "samples ms", "peak RSS MiB", "RSS MiB", "of it anonymous MiB"] | head),
    (.memory + (.died | map({key: ., value: {}}) | from_entries) | to_entries[] | [.key, $all.startup[.key].median_ms, ($all.startup[.key].samples_ms | if . then join(" ") else null end), .value.peak_rss_mib, .value.rss_mib, .value.anon_rss_mib] | row),
    "", "## The first 100 requests after start, 10 at a time (the seed'"'"'s xargs load)", "",
    (["to", "p50 ms", "p99 ms", "max ms", "successes"] | head),
    (.startup | to_entries[] | select(.value.first_burst) | .key as $to | .value.first_burst[]
      | [if $to == "full" then "comms, right after local-up" else "\($to) alone, right after ready" end, .p50_ms, .p99_ms, .max_ms, .success] | row),
    (select(.sidecars_add != []) | "", "## What the two sidecars add: both-sidecars minus greeter", "",
      (["rate /s", "p50 ms", "p90 ms", "p99 ms", "CPU ms/req comms-daprd", "greeter-daprd"] | head),
      (.sidecars_add[] | [.rate, .added_ms.p50, .added_ms.p90, .added_ms.p99, .sidecar_cpu_ms_per_request."comms-daprd", .sidecar_cpu_ms_per_request."greeter-daprd"] | row)),
    "", "For comparison, \(.dapr_published)."' "$OUT"

((${#problems[@]} == 0)) || die "${#problems[@]} check(s) failed:$(printf '\n  - %s' "${problems[@]}")"
