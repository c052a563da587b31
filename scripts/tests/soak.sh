#!/usr/bin/env bash
# Sustained load on the real local stack (free ports, its own run dir): 60,000 POST /greet at 400/s
# through comms with vegeta, then checks that none was lost and that the stack came through it:
# comms still answers and its trace still reaches Zipkin, Zipkin idles again (its storage is
# bounded, so it does not thrash) and answers /health, and local-down stops everything with TERM.
# Opt-in: scripts/test.sh soak. Ends with "N passed, N failed"; exits 1 when a check failed.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/tests/soak.sh     (or: scripts/test.sh soak)

Environment (shorten them while developing):
  SOAK_RATE          requests/s through comms (default 400)
  SOAK_SECONDS       seconds of load (default 150): SOAK_RATE x SOAK_SECONDS requests in all
  SOAK_WARMUP        seconds at 100/s, then at 250/s, before it (default 30)
  IDLE_SETTLE        seconds after the load before Zipkin's CPU is measured (default 5)
  IDLE_SECONDS       seconds over which Zipkin's CPU is measured (default 10)
  IDLE_MAX_PERCENT   Zipkin's CPU over them, % of one core, must stay below this (default 5)
Takes about 4.5 minutes with the defaults.
EOF
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

SOAK_RATE="${SOAK_RATE:-400}"
SOAK_WARMUP="${SOAK_WARMUP:-30}"
SOAK_SECONDS="${SOAK_SECONDS:-150}"
IDLE_SETTLE="${IDLE_SETTLE:-5}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
IDLE_MAX_PERCENT="${IDLE_MAX_PERCENT:-5}"
for v in "$SOAK_RATE" "$SOAK_SECONDS" "$SOAK_WARMUP" "$IDLE_SECONDS" "$IDLE_MAX_PERCENT"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "SOAK_RATE, SOAK_SECONDS, SOAK_WARMUP, IDLE_SECONDS and IDLE_MAX_PERCENT must be positive integers, got '$v'"
done
[[ "$IDLE_SETTLE" =~ ^[0-9]+$ ]] || die "IDLE_SETTLE must be a number of seconds, got '$IDLE_SETTLE'"
EXPECTED=$((SOAK_RATE * SOAK_SECONDS))

need_tools java curl jq ps od
load_versions
need_version VEGETA_VERSION
VEGETA=$(go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION") || exit 1
HZ=$(getconf CLK_TCK)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")"
export LOCAL_RUN_DIR="$WORK/run"
SUITE_STARTED=$SECONDS

# Processes whose command line names this run dir: local-up marks all of its own so.
# shellcheck disable=SC2009 # a fixed-string match on the whole command line, which pgrep cannot do
leftovers() { ps -eww -o pid=,args= | grep -F -- "$WORK" | grep -v grep || true; }

cleanup() {
  local pid
  "$SCRIPTS_DIR/local-down.sh" >/dev/null 2>&1
  # Should local-down itself be broken, nothing of this run may outlive it either.
  while read -r pid _; do [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; done <<<"$(leftovers)"
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=local/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/local/harness.sh"

use_free_local_up_ports

zipkin_pid() { awk '$1 == "zipkin" { print $2 }' "$LOCAL_RUN_DIR/pids" 2>/dev/null; }
cpu_ticks() { local stat f; stat=$(cat "/proc/$1/stat") || return 1; read -r -a f <<<"${stat##*) }"; echo $((f[11] + f[12])); }

# stack_deaths : names each process of the stack that is no longer running, with the end of its log.
stack_deaths() {
  local name pid stat
  while read -r name pid; do
    stat="$(ps -o stat= -p "$pid" 2>/dev/null)"
    [[ -n "$stat" && "$stat" != Z* ]] && continue
    say "  $name (pid $pid) is no longer running; the end of its log:"
    tail -n 8 "$LOCAL_RUN_DIR/logs/$name.log" | cut -c1-400 | sed 's/^/  | /' >&2
  done <"$LOCAL_RUN_DIR/pids"
}

# ---------------------------------------------------------------- checks

localUpStartsTheStack() {
  "$SCRIPTS_DIR/local-up.sh" >"$WORK/up.out" 2>&1 || { show "$WORK/up.out"; fail "local-up failed"; }
}

everyRequestOfTheLoadIsAnsweredByGreeterWithoutFallback() {
  printf '{"name":"Ada"}' >"$WORK/body.json"
  # JIT-cold JVMs need several times their warm CPU per request: 400/s on two cores shared by five
  # servers and the load generator would first build a queue. Not counted.
  say "  warm-up: ${SOAK_WARMUP}s at 100/s, then ${SOAK_WARMUP}s at 250/s (not counted)"
  for rate in 100 250; do
    echo "POST http://127.0.0.1:$COMMS_PORT/greet" | "$VEGETA" attack -rate="$rate" -duration="${SOAK_WARMUP}s" \
      -timeout=10s -header 'Content-Type: application/json' -body "$WORK/body.json" >/dev/null \
      || fail "vegeta failed" || return 1
  done
  say "  $EXPECTED requests at $SOAK_RATE/s for ${SOAK_SECONDS}s to http://127.0.0.1:$COMMS_PORT/greet"
  echo "POST http://127.0.0.1:$COMMS_PORT/greet" | "$VEGETA" attack -rate="$SOAK_RATE" -duration="${SOAK_SECONDS}s" \
    -timeout=10s -header 'Content-Type: application/json' -body "$WORK/body.json" -output "$WORK/results.bin" \
    || fail "vegeta failed" || return 1
  LOAD_ENDED=$SECONDS
  # Its error set would list every connection; the counts below name the errors instead.
  "$VEGETA" report "$WORK/results.bin" | sed '/^Error Set:/,$d; s/^/  /' >&2
  # Counted by answer: "ok" is a 200 from greeter with "fallback":false, anything else is named.
  "$VEGETA" encode --to json "$WORK/results.bin" | jq -nc 'reduce (inputs
    | ((.body // "") | @base64d | try fromjson catch null) as $b
    | if .code == 200 and ($b | type) == "object" and $b.service == "greeter" and $b.fallback == false then "ok"
      elif .code == 200 and ($b | type) == "object" and $b.fallback == true then "fallback"
      else "HTTP \(.code) \(.error | split(": ") | last)" end) as $k ({}; .[$k] += 1)' >"$WORK/counts.json" \
    || fail "cannot read the results" || return 1
  say "  answers: $(jq -c . "$WORK/counts.json")"
  stack_deaths
  local total ok
  total=$(jq '[.[]] | add // 0' "$WORK/counts.json")
  ok=$(jq '.ok // 0' "$WORK/counts.json")
  ((total == EXPECTED)) || fail "$total results, expected exactly $EXPECTED" || return 1
  ((ok == EXPECTED)) || fail "only $ok of $EXPECTED were greeter's answers without fallback"
}

zipkinIdlesAfterTheLoad() {
  local pid before after percent
  pid=$(zipkin_pid)
  [[ -n "$pid" ]] || fail "no zipkin pid recorded" || return 1
  # Counted from the load's end: the sidecars' exporters send what they hold within seconds.
  local settle=$((${LOAD_ENDED:-0} + IDLE_SETTLE - SECONDS))
  ((settle <= 0)) || sleep "$settle"
  before=$(cpu_ticks "$pid") || fail "zipkin (pid $pid) is not running" || return 1
  sleep "$IDLE_SECONDS"
  after=$(cpu_ticks "$pid") || fail "zipkin (pid $pid) stopped" || return 1
  percent=$(awk -v t=$((after - before)) -v hz="$HZ" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.1f", t * 100 / hz / s }')
  say "  Zipkin's CPU over ${IDLE_SECONDS}s, ${IDLE_SETTLE}s after the load: $percent% of one core (limit $IDLE_MAX_PERCENT%)"
  awk -v p="$percent" -v max="$IDLE_MAX_PERCENT" 'BEGIN { exit !(p < max) }' \
    || fail "Zipkin does not idle after the load: is its storage bounded (MEM_MAX_SPANS)?"
}

commsStillAnswersAndItsTraceReachesZipkin() {
  local trace_id parent_id answer deadline summary=""
  trace_id="$(random_hex 16)"
  parent_id="$(random_hex 8)"
  answer="$(curl -sS --max-time 15 -X POST "http://127.0.0.1:$COMMS_PORT/greet" -H 'Content-Type: application/json' \
    -H "traceparent: 00-$trace_id-$parent_id-01" -d '{"name":"Ada"}' -w ' HTTP %{http_code}')"
  say "  comms answered: $answer"
  [[ "$answer" == *'"fallback":false'*' HTTP 200' ]] || { stack_deaths; fail "not greeter's answer without fallback"; return 1; }
  # Complete once it has spans of both apps and both sidecars (Dapr reports under the app ids).
  deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    summary="$(curl -fsS --max-time 5 "http://127.0.0.1:$ZIPKIN_PORT/api/v2/trace/$trace_id" 2>/dev/null \
      | jq -r '"\(length) spans from \([.[].localEndpoint.serviceName] | unique | join(","))"' 2>/dev/null)"
    if [[ "$summary" == *" from comms,greeter" && "${summary%% *}" -ge 4 ]]; then
      say "  trace $trace_id: $summary"
      return 0
    fi
    sleep 1
  done
  fail "trace $trace_id did not reach Zipkin whole within 60s (has: ${summary:-nothing}):" \
    "$(curl -fsS --max-time 5 "http://127.0.0.1:$ZIPKIN_PORT/api/v2/trace/$trace_id" 2>/dev/null \
      | jq -r '.[] | "  \(.localEndpoint.serviceName) \(.kind) \(.name) id \(.id) parent \(.parentId)"' 2>/dev/null)"
}

zipkinStillAnswersHealth() {
  local pid old
  pid=$(zipkin_pid)
  if command -v jstat >/dev/null 2>&1; then
    # The O column of -gcutil: the old generation's occupancy, % of its current capacity (printed only:
    # it also counts garbage not collected yet). FGC: how many full collections so far.
    old=$(jstat -gcutil "$pid" 2>/dev/null | awk 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["O"] "% full, " $c["FGC"] " full GCs" }')
    say "  Zipkin's old generation (jstat -gcutil): ${old:-unknown}"
  fi
  curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$ZIPKIN_PORT/health" || fail "Zipkin's /health does not answer 200"
}

localDownStopsEverythingWithoutKill() {
  local p
  "$SCRIPTS_DIR/local-down.sh" >"$WORK/down.out" 2>&1 || { show "$WORK/down.out"; fail "local-down failed"; return 1; }
  ! grep -q "sending KILL" "$WORK/down.out" || { show "$WORK/down.out"; fail "a process ignored TERM"; return 1; }
  [[ -z "$(leftovers)" ]] || fail "processes left behind:" "$(leftovers)" || return 1
  for p in "${LOCAL_UP_PORTS[@]}"; do
    ! port_in_use "${!p}" || fail "port ${!p} ($p) is still listening" || return 1
  done
}

# ---------------------------------------------------------------- run

say "soak: comms on $COMMS_PORT, run dir $LOCAL_RUN_DIR"
run_test localUpStartsTheStack
if ((FAILED == 0)); then
  run_test everyRequestOfTheLoadIsAnsweredByGreeterWithoutFallback
  run_test zipkinIdlesAfterTheLoad
  run_test commsStillAnswersAndItsTraceReachesZipkin
  run_test zipkinStillAnswersHealth
fi
run_test localDownStopsEverythingWithoutKill

say "soak took $((SECONDS - SUITE_STARTED))s"
finish
