#!/usr/bin/env bash
# Runs dapr.yaml with the Dapr CLI, as `dapr run -f .`, with Redis and Zipkin, and traces a greeting each way.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: scripts/local-up.sh

Builds what is missing (the jars; daprd into ~/.dapr/bin and the Dapr CLI, from the Go module proxy;
Zipkin, from Maven Central; Redis: redis-server on PATH, else Debian's package, unpacked), starts Redis
on 127.0.0.1:6380 (greetings and their events), Zipkin on 127.0.0.1:9411 and `dapr run -f .` in the
background, waits until both apps and both sidecars are healthy, sends one POST /greet and one
POST /greetings (waiting until it is done), and prints both traces.
The ports are dapr.yaml's; it refuses if one is taken. Stop with scripts/local-down.sh.
Redis keeps its data (append-only file) and comms its receipts in the log folder below.

Environment:
  APP_API_TOKEN    the token greeter's sidecar sends and greeter checks (default: a new random one)
  STARTUP_TIMEOUT  seconds to wait for everything to be healthy (default 180)
Logs: ~/.local/state/dapr-tracing-demo/local (dapr.log: the CLI, the apps and the sidecars; zipkin.log;
redis.log; redis/: its data; receipts/).
EOF_USAGE
}
parse_no_args "$@"

load_versions
need_version ZIPKIN_VERSION
need_tools java curl jq ss setsid
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-180}"
[[ "$STARTUP_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "STARTUP_TIMEOUT must be a number of seconds, got '$STARTUP_TIMEOUT'"
ZIPKIN_JAR="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/zipkin-server-$ZIPKIN_VERSION-exec.jar"
mkdir -p "$LOCAL_STATE"

STARTED=false
on_failure_hint() {
  [[ "$STARTED" == true ]] || return 0
  tail -n 30 "$LOCAL_STATE/dapr.log" 2>/dev/null | sed 's/^/  | /'
  echo "stopping what this run started (logs in $LOCAL_STATE)"
  STOP_TIMEOUT=10 "$SCRIPTS_DIR/local-down.sh" >/dev/null 2>&1 || true
}

steps_total 7
step "check the ports of dapr.yaml, Redis' and Zipkin's" "1s"
taken=()
for port in $(local_ports); do port_in_use "$port" && taken+=("$port"); done
((${#taken[@]} == 0)) || die "port(s) in use: ${taken[*]}. A previous run? scripts/local-down.sh stops it."
use_java_25

step "build what is missing: the jars, daprd, the Dapr CLI, Zipkin, Redis" "1s when built; first builds take minutes"
if apps_stale; then
  info "building the jars (log: $LOCAL_STATE/build.log)"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package) >"$LOCAL_STATE/build.log" 2>&1 \
    || die "the Maven build failed: $(tail -n 20 "$LOCAL_STATE/build.log")"
fi
"$SCRIPTS_DIR/daprd.sh" >/dev/null
dapr=$("$SCRIPTS_DIR/daprd.sh" dapr)
redis=$(redis_server)
if [[ ! -s "$ZIPKIN_JAR" ]]; then
  (cd "$REPO_ROOT" && ./mvnw -B -q -N dependency:copy "-Dartifact=io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" \
    "-DoutputDirectory=$(dirname "$ZIPKIN_JAR")") >"$LOCAL_STATE/zipkin-download.log" 2>&1 \
    || die "could not fetch Zipkin $ZIPKIN_VERSION from Maven Central (log: $LOCAL_STATE/zipkin-download.log)"
fi

step "start Redis, Zipkin and \`dapr run -f .\`" "1s"
STARTED=true
# Redis first: the sidecars connect to it as they start. Persistent, as a broker must be: every write
# goes to its append-only file, synced each second.
mkdir -p "$LOCAL_STATE/redis" "$LOCAL_STATE/receipts"
redis_port=$LOCAL_REDIS_PORT
setsid "$redis" --bind 127.0.0.1 --port "$redis_port" --dir "$LOCAL_STATE/redis" --appendonly yes --save "" \
  </dev/null >"$LOCAL_STATE/redis.log" 2>&1 &
echo "$!" >"$LOCAL_STATE/redis.pid"
deadline=$((SECONDS + 30))
until grep -q "Ready to accept connections" "$LOCAL_STATE/redis.log"; do
  ((SECONDS < deadline)) || die "Redis did not answer on 127.0.0.1:$redis_port within 30s: $(tail -n 5 "$LOCAL_STATE/redis.log")"
  sleep 0.2
done
# Zipkin in a session of its own, and the CLI in its own process group, which local-down stops whole.
# Zipkin keeps spans in memory: bounded so that its 256 MiB heap never fills under load.
MEM_MAX_SPANS=50000 setsid java -XX:TieredStopAtLevel=1 -Xmx256m -jar "$ZIPKIN_JAR" --armeria.ports[0].ip=127.0.0.1 \
  --armeria.ports[0].port=9411 --armeria.ports[0].protocols[0]=http </dev/null >"$LOCAL_STATE/zipkin.log" 2>&1 &
echo "$!" >"$LOCAL_STATE/zipkin.pid"
APP_API_TOKEN="${APP_API_TOKEN:-$(random_hex 32)}"
register_secret "$APP_API_TOKEN"
# Through the CLI's environment, never a command line. No Dapr API token: the CLI's list and stop cannot send one.
(cd "$REPO_ROOT" && APP_API_TOKEN=$APP_API_TOKEN REDIS_HOST="127.0.0.1:$redis_port" RECEIPTS_DIR="$LOCAL_STATE/receipts" exec nohup "$dapr" run -f . </dev/null >"$LOCAL_STATE/dapr.log" 2>&1) &
cli=$!
echo "$cli" >"$LOCAL_STATE/dapr.pid"

step "wait until Zipkin, both apps and both sidecars are healthy" "20-60s"
deadline=$((SECONDS + STARTUP_TIMEOUT))
for url in http://127.0.0.1:9411/health http://127.0.0.1:8081/actuator/health/readiness \
  http://127.0.0.1:3501/v1.0/healthz http://127.0.0.1:8080/actuator/health/readiness http://127.0.0.1:3500/v1.0/healthz; do
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    kill -0 "$cli" 2>/dev/null || die "the Dapr CLI exited"
    ((SECONDS < deadline)) || die "$url not healthy within ${STARTUP_TIMEOUT}s"
    sleep 0.5
  done
done

step "send one POST /greet with a trace id of its own" "1s"
trace_id=$(random_hex 16)
answer=$(curl -sS --max-time 15 http://127.0.0.1:8080/greet -H 'Content-Type: application/json' \
  -H "traceparent: 00-$trace_id-$(random_hex 8)-01" -d '{"name":"Ada"}') || die "comms did not answer POST /greet"
[[ "$(jq -r .fallback <<<"$answer" 2>/dev/null)" == false ]] || die "comms did not get greeter's answer: $answer"

step "send one POST /greetings and wait until it is done" "2s"
async_trace_id=$(random_hex 16)
accepted=$(curl -sS --max-time 15 http://127.0.0.1:8080/greetings -H 'Content-Type: application/json' \
  -H "traceparent: 00-$async_trace_id-$(random_hex 8)-01" -d '{"name":"Ada"}') || die "comms did not answer POST /greetings"
id=$(jq -er .id <<<"$accepted" 2>/dev/null) || die "comms did not accept the greeting: $accepted"
deadline=$((SECONDS + 30))
until greeting=$(curl -fsS --max-time 5 "http://127.0.0.1:8080/greetings/$id") && [[ "$(jq -r .status <<<"$greeting")" == "done" ]]; do
  ((SECONDS < deadline)) || die "greeting $id not done within 30s: ${greeting:-no answer}"
  sleep 0.2
done

step "wait for both traces in Zipkin" "5s"
ZIPKIN_PORT=9411 wait_for_trace "$trace_id" 60 \
  || die "trace $trace_id did not reach Zipkin whole within 60s: $PROBLEMS"
ZIPKIN_PORT=9411 wait_for_trace "$async_trace_id" 60 "${ASYNC_TRACE_EDGES[@]}" \
  || die "trace $async_trace_id did not reach Zipkin whole within 60s: $PROBLEMS"
steps_finished

cat <<EOF

POST /greet, comms answered: $answer
  trace $trace_id: http://localhost:9411/zipkin/traces/$trace_id
POST /greetings, then GET /greetings/$id: $greeting
  trace $async_trace_id: http://localhost:9411/zipkin/traces/$async_trace_id
  receipt: $LOCAL_STATE/receipts/$id.json

Running in the background (logs in $LOCAL_STATE): comms on :8080, greeter on :8081, their sidecars
on :3500 and :3501, Redis on 127.0.0.1:$redis_port, Zipkin on http://localhost:9411/zipkin/
Try:  curl -X POST localhost:8080/greet -H 'Content-Type: application/json' -d '{"name":"Ada"}'
      curl -i -X POST localhost:8080/greetings -H 'Content-Type: application/json' -d '{"name":"Ada"}'
Load: scripts/load.sh
Stop: scripts/local-down.sh
EOF
