#!/usr/bin/env bash
# Runs the whole system on this machine (dapr.yaml with the Dapr CLI, Sentry, Zipkin) and traces one request.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/local-up.sh

Starts in the background Zipkin, Dapr's Sentry, and with `dapr run -f` the apps and sidecars of
dapr.yaml (on these ports); waits until all are healthy; sends one POST /greet with a trace id it
makes; prints the answer and the trace's Zipkin URL. The sidecars talk mTLS with certificates from
Sentry (daprd gets the flags for it, which a run file cannot set, from a wrapper in RUN_DIR/.dapr/bin); greeter's sidecar lets only
comms call POST /greet; the Dapr API token and the app API token are new random values each run
(kept, readable only by you, in RUN_DIR/tokens.env).
Refuses if a port it needs is taken. On any failure it names the step, shows the end of the failing
process's log, and stops everything it started. Stop with scripts/local-down.sh.

Environment (defaults: the ports in the README):
  COMMS_PORT=8080  COMMS_DAPR_HTTP_PORT=3500  COMMS_DAPR_GRPC_PORT=50001  COMMS_DAPR_METRICS_PORT=9090
  GREETER_PORT=8081  GREETER_DAPR_HTTP_PORT=3501  GREETER_DAPR_GRPC_PORT=50002  GREETER_DAPR_METRICS_PORT=9091
  ZIPKIN_PORT=9411  SENTRY_PORT=50003  SENTRY_HEALTH_PORT=8082
  LOCAL_RUN_DIR     logs, PID file, rendered Dapr config and run file (default ~/.local/state/dapr-tracing-demo/local)
  DAPRD             a daprd binary to use instead of the one scripts/daprd.sh provides
  SENTRY            a sentry binary to use instead of the one `scripts/daprd.sh sentry` provides
  STARTUP_TIMEOUT   seconds to wait for everything to be healthy (default 180)
  TRACE_TIMEOUT     seconds to wait for the trace to reach Zipkin (default 60)
  APP_JAVA_OPTS     JVM options of the two apps (default: the container image's, from pom.xml)
  ZIPKIN_JAVA_OPTS  those of Zipkin; ZIPKIN_MAX_SPANS the spans it keeps (default 50000)
EOF
}

parse_no_args "$@"

load_versions
need_version DAPR_RUNTIME_VERSION DAPR_LOCAL_CLI_VERSION ZIPKIN_VERSION

# The apps', sidecars' and Zipkin's ports default to those of dapr.yaml.
while read -r var port; do printf -v "$var" '%s' "${!var:-$port}"; done < <(local_run_file --ports)
SENTRY_PORT="${SENTRY_PORT:-50003}"
SENTRY_HEALTH_PORT="${SENTRY_HEALTH_PORT:-8082}"
RUN_DIR="${LOCAL_RUN_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/dapr-tracing-demo/local}"
STARTUP_TIMEOUT="${STARTUP_TIMEOUT:-180}"
TRACE_TIMEOUT="${TRACE_TIMEOUT:-60}"
APP_JAVA_OPTS="${APP_JAVA_OPTS:-$(app_jvm_flags)}"
ZIPKIN_JAVA_OPTS="${ZIPKIN_JAVA_OPTS:--XX:TieredStopAtLevel=1 -Xmx256m}"
# Zipkin keeps spans in memory and drops the oldest traces past this: sized so that the heap above
# never fills (its default, 500,000 spans, does not fit and ends in a full-GC spiral under load).
ZIPKIN_MAX_SPANS="${ZIPKIN_MAX_SPANS:-50000}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo"

ZIPKIN_JAR="$CACHE_DIR/zipkin-server-$ZIPKIN_VERSION-exec.jar"

# Each component, in start order, and its health URL.
COMPONENTS=(zipkin sentry greeter greeter-daprd comms comms-daprd)
declare -A HEALTH_URL=(
  [zipkin]="http://127.0.0.1:$ZIPKIN_PORT/health" [sentry]="http://127.0.0.1:$SENTRY_HEALTH_PORT/healthz"
  [greeter]="http://127.0.0.1:$GREETER_PORT/actuator/health/readiness" [greeter-daprd]="http://127.0.0.1:$GREETER_DAPR_HTTP_PORT/v1.0/healthz"
  [comms]="http://127.0.0.1:$COMMS_PORT/actuator/health/readiness" [comms-daprd]="http://127.0.0.1:$COMMS_DAPR_HTTP_PORT/v1.0/healthz"
)

# Logs whose last lines explain a failure of the current step.
FAILURE_LOGS=()
STARTED=false

# Called by lib.sh when the script exits with an error during a step (also on Ctrl-C).
on_failure_hint() {
  local f
  for f in "${FAILURE_LOGS[@]+"${FAILURE_LOGS[@]}"}"; do
    if [[ -s "$f" ]]; then
      printf -- '--- last 40 lines of %s ---\n' "$f"
      tail -n 40 "$f"
      printf -- '--- end of %s ---\n' "$f"
    fi
  done
  if [[ "$STARTED" == true ]]; then
    echo "stopping everything this run started..."
    # Short: a Dapr CLI still starting the apps acts on TERM only once it is done (then KILL stops it).
    LOCAL_RUN_DIR="$RUN_DIR" STOP_TIMEOUT=5 "$SCRIPTS_DIR/local-down.sh" || true
  fi
}

# start NAME CMD... : runs CMD in its own session, detached from this script, logging to logs/NAME.log.
start() {
  local name=$1
  shift
  local log="$LOG_DIR/$name.log" detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  (
    cd "$RUN_DIR"
    exec "${detach[@]+"${detach[@]}"}" nohup "$@" </dev/null >"$log" 2>&1
  ) &
  local pid=$!
  disown "$pid" # local-down stops it; this shell does not report its end
  STARTED=true
  printf '%s %s\n' "$name" "$pid" >>"$PID_FILE"
  info "$name: pid $pid, log $log"
}

steps_total 9

step "check tools, ports and the run directory" "1s"
need_tools java curl jq ps pgrep nohup awk od
for var in STARTUP_TIMEOUT TRACE_TIMEOUT; do
  [[ "${!var}" =~ ^[1-9][0-9]*$ ]] || die "$var must be a number of seconds, got '${!var}'"
done
declare -A port_owner=()
for var in "${LOCAL_UP_PORTS[@]}"; do
  port="${!var}"
  valid_port "$port" || die "$var is not a port: '$port'"
  [[ -z "${port_owner[$port]:-}" ]] || die "$var and ${port_owner[$port]} are both $port: each needs its own port"
  port_owner[$port]=$var
done
[[ "$RUN_DIR" != *[\"\\]* ]] || die "LOCAL_RUN_DIR must not contain quotes or backslashes: $RUN_DIR"
mkdir -p "$RUN_DIR"
# Absolute, since the processes start from inside it and local-down matches their command lines on it.
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/pids"
# Every process started here carries this marker in its command line, so that local-down only ever
# signals a PID that is still the process it recorded.
MARKER="-Ddapr-tracing-demo.run-dir=$RUN_DIR"
mkdir -p "$LOG_DIR"
if [[ -f "$PID_FILE" ]]; then
  while read -r name pid; do
    if ours "$pid" "$RUN_DIR"; then
      die "already running: $name (pid $pid) from a previous scripts/local-up.sh; stop it with scripts/local-down.sh"
    fi
  done <"$PID_FILE"
  rm -f "$PID_FILE"
fi
taken=()
for port in "${!port_owner[@]}"; do
  port_in_use "$port" && taken+=("${port_owner[$port]}=$port")
done
if ((${#taken[@]})); then
  die "port(s) already in use: ${taken[*]}. Stop what holds them (a previous run: scripts/local-down.sh), or choose other ports with those variables."
fi
use_java_25

step "build comms and greeter and their AOT caches (when missing or older than their sources)" "1-3 min when needed, else 1s"
if apps_stale; then
  FAILURE_LOGS=("$LOG_DIR/build.log")
  info "building with Maven (log: $LOG_DIR/build.log)"
  (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests package) >"$LOG_DIR/build.log" 2>&1 \
    || die "the Maven build failed"
else
  info "jars are up to date"
fi
read -r -a app_java_opts <<<"$APP_JAVA_OPTS"
unpacked_jar comms-service "${app_java_opts[@]}" >/dev/null
unpacked_jar greeter-service "${app_java_opts[@]}" >/dev/null

step "get daprd and sentry $DAPR_RUNTIME_VERSION and the Dapr CLI $DAPR_LOCAL_CLI_VERSION" "1s when built before; the first builds take minutes"
daprd_bin="${DAPRD:-$("$SCRIPTS_DIR/daprd.sh")}"
sentry_bin="${SENTRY:-$("$SCRIPTS_DIR/daprd.sh" sentry)}"
dapr_cli="$("$SCRIPTS_DIR/daprd.sh" dapr)"
for bin in "$daprd_bin" "$sentry_bin"; do
  [[ -f "$bin" && -x "$bin" ]] || die "not an executable file: $bin"
done
info "$daprd_bin, $sentry_bin, $dapr_cli"

step "get Zipkin $ZIPKIN_VERSION" "1s when cached, else ~20s (135 MB from Maven Central)"
if [[ ! -s "$ZIPKIN_JAR" ]]; then
  mkdir -p "$CACHE_DIR"
  zipkin_dl=""
  make_temp_dir zipkin_dl
  FAILURE_LOGS=("$LOG_DIR/zipkin-download.log")
  (cd "$REPO_ROOT" && ./mvnw -B -q -N dependency:copy \
    "-Dartifact=io.zipkin:zipkin-server:$ZIPKIN_VERSION:jar:exec" "-DoutputDirectory=$zipkin_dl") \
    >"$LOG_DIR/zipkin-download.log" 2>&1 || die "could not fetch io.zipkin:zipkin-server:$ZIPKIN_VERSION:exec from Maven Central"
  mv -f "$zipkin_dl/zipkin-server-$ZIPKIN_VERSION-exec.jar" "$ZIPKIN_JAR"
fi
info "$ZIPKIN_JAR"

step "write the Dapr configuration" "1s"
nr_db="$RUN_DIR/nameresolution.db"
rm -f "$nr_db" "$nr_db-wal" "$nr_db-shm"
local_dapr_config "$RUN_DIR/config.yaml" "$ZIPKIN_PORT" "$nr_db" || die "could not write $RUN_DIR/config.yaml"
info "$RUN_DIR/config.yaml"

step "start Zipkin, Sentry, and dapr.yaml's apps and sidecars with the Dapr CLI" "5s"
: >"$PID_FILE"
# New tokens each run: the Dapr API token (app -> its sidecar) and the app API token (sidecar -> app).
DAPR_API_TOKEN=$(random_hex 32)
APP_API_TOKEN=$(random_hex 32)
(umask 077 && printf 'DAPR_API_TOKEN=%s\nAPP_API_TOKEN=%s\n' "$DAPR_API_TOKEN" "$APP_API_TOKEN" >"$RUN_DIR/tokens.env")
register_secret "$DAPR_API_TOKEN"
register_secret "$APP_API_TOKEN"
read -r -a zipkin_java_opts <<<"$ZIPKIN_JAVA_OPTS"

# Zipkin on loopback only (its default is every interface).
start zipkin env "QUERY_PORT=$ZIPKIN_PORT" "MEM_MAX_SPANS=$ZIPKIN_MAX_SPANS" java "$MARKER" "${zipkin_java_opts[@]}" -jar "$ZIPKIN_JAR" \
  "--armeria.ports[0].ip=127.0.0.1" "--armeria.ports[0].port=$ZIPKIN_PORT" "--armeria.ports[0].protocols[0]=http"
# Dapr's certificate authority signs each sidecar's certificate; on its first start it makes a new
# root and issuer in RUN_DIR/sentry, which the sidecars then trust.
rm -rf "$RUN_DIR/sentry"
mkdir -p "$RUN_DIR/sentry"
start sentry "$sentry_bin" --issuer-credentials "$RUN_DIR/sentry" --trust-domain localhost \
  --listen-address 127.0.0.1 --port "$SENTRY_PORT" --healthz-listen-address 127.0.0.1 --healthz-port "$SENTRY_HEALTH_PORT" \
  --enable-metrics=false --config "$RUN_DIR/config.yaml" --log-as-json
deadline=$((SECONDS + 30))
until [[ -s "$RUN_DIR/sentry/ca.crt" ]]; do
  ((SECONDS < deadline)) || { FAILURE_LOGS=("$LOG_DIR/sentry.log"); die "Sentry made no root certificate within 30s"; }
  sleep 0.2
done

# The CLI runs DAPR_RUNTIME_PATH/.dapr/bin/daprd: here daprd with what a run file cannot say.
mkdir -p "$RUN_DIR/.dapr/bin"
printf '#!/bin/sh\n# Written by scripts/local-up.sh: mTLS with its Sentry, internal gRPC and metrics on loopback.\nexec %q "$@" %s\n' \
  "$daprd_bin" "--enable-mtls --sentry-address 127.0.0.1:$SENTRY_PORT --dapr-internal-grpc-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1" \
  >"$RUN_DIR/.dapr/bin/daprd"
chmod +x "$RUN_DIR/.dapr/bin/daprd"
# dapr.yaml on this run's ports and configuration, the apps with the image's JVM flags and unpacked jars.
read -r -a app_java_opts <<<"$APP_JAVA_OPTS $MARKER"
local_run_file "$RUN_DIR/config.yaml" "$(printf '"%s", ' "${app_java_opts[@]}")" >"$RUN_DIR/dapr.yaml" \
  || die "could not write $RUN_DIR/dapr.yaml"
# Through the CLI's environment, which it hands to both apps and both sidecars: the tokens (never on a
# command line, which any user can read with ps), and the sidecars' namespace (the cluster's, so the
# access-control policy reads the same) and trust anchors.
DAPR_API_TOKEN=$DAPR_API_TOKEN APP_API_TOKEN=$APP_API_TOKEN start dapr env DAPR_RUNTIME_PATH="$RUN_DIR" \
  DAPR_HOST_IP=127.0.0.1 NAMESPACE=dapr-services "DAPR_TRUST_ANCHORS=$(cat "$RUN_DIR/sentry/ca.crt")" \
  "$dapr_cli" run -f "$RUN_DIR/dapr.yaml"

# Each PID becomes its final command only once the exec chain (setsid, nohup, env) is done; wait for
# that, so that a failure from here on finds every process under its recorded identity.
settle_deadline=$((SECONDS + 10))
while read -r name pid; do
  while alive "$pid" && ! ours "$pid" "$RUN_DIR" && ((SECONDS < settle_deadline)); do sleep 0.1; done
done <"$PID_FILE"

step "wait until all six are healthy" "20-60s"
waited_from=$SECONDS
declare -A pid_of=()
while read -r name pid; do pid_of[$name]=$pid; done <"$PID_FILE"
deadline=$((SECONDS + STARTUP_TIMEOUT))
for name in "${COMPONENTS[@]}"; do
  # The apps and sidecars are the CLI's, which says in its log when one of them exits.
  pid=${pid_of[$name]:-${pid_of[dapr]}} log=$LOG_DIR/dapr.log exited="The App process exited"
  [[ -n "${pid_of[$name]:-}" ]] && log=$LOG_DIR/$name.log
  [[ "$name" == *-daprd ]] && exited="The daprd process exited"
  FAILURE_LOGS=("$log")
  until curl -fsS -o /dev/null --max-time 2 "${HEALTH_URL[$name]}" 2>/dev/null; do
    if ! alive "$pid" || grep -q "$exited" "$log" 2>/dev/null; then
      die "$name exited while starting; the end of $log, without the apps' lines: $(grep -v '== APP - ' "$log" | tail -n 5)"
    fi
    ((SECONDS < deadline)) || die "$name not healthy within ${STARTUP_TIMEOUT}s (probed ${HEALTH_URL[$name]})"
    sleep 0.5
  done
  info "$name is healthy after $((SECONDS - waited_from))s"
done
# The CLI's apps and sidecars are recorded too, so that each can be measured and stopped by name.
ps -ww -o pid=,args= -p "$(pgrep -d, -g "${pid_of[dapr]}")" | awk '
  match($0, / --app-id [a-z]+ /) { print substr($0, RSTART + 10, RLENGTH - 11) "-daprd", $1 }
  match($0, /[a-z]+-service\.jar/) { print substr($0, RSTART, RLENGTH - 12), $1 }' >>"$PID_FILE"
[[ $(wc -l <"$PID_FILE") -eq 7 ]] || die "cannot find the apps and sidecars the Dapr CLI started: $(cat "$PID_FILE")"

step "send one POST /greet through the sidecars" "1s"
FAILURE_LOGS=("$LOG_DIR/dapr.log")
# A W3C traceparent made here, so the trace id is known before Zipkin is asked for it.
trace_id="$(random_hex 16)"
parent_id="$(random_hex 8)"
answer="$(curl -sS --max-time 15 -X POST "http://127.0.0.1:$COMMS_PORT/greet" \
  -H 'Content-Type: application/json' -H "traceparent: 00-$trace_id-$parent_id-01" \
  -d '{"name":"Ada"}' -w '\n%{http_code}')" || die "comms did not answer POST /greet"
status="${answer##*$'\n'}"
body="${answer%$'\n'*}"
[[ "$status" == 200 ]] || die "comms answered HTTP $status: $body"
[[ "$(jq -r '.fallback' <<<"$body" 2>/dev/null)" == false ]] \
  || die "comms answered its fallback, so the call through the sidecars to greeter failed: $body"
info "comms answered: $body"

step "wait for the trace in Zipkin" "5-10s"
FAILURE_LOGS=("$LOG_DIR/dapr.log" "$LOG_DIR/zipkin.log")
wait_for_trace "$trace_id" "$TRACE_TIMEOUT" \
  || die "the trace $trace_id did not reach Zipkin with spans of comms and greeter within ${TRACE_TIMEOUT}s (has: $SPANS spans from '${SERVICES:-nothing}')"
steps_finished

env_prefix=""
[[ -n "${LOCAL_RUN_DIR:-}" ]] && env_prefix="LOCAL_RUN_DIR=$RUN_DIR "
cat <<EOF

comms answered: $body
trace $trace_id: $SPANS spans from $SERVICES
  http://localhost:$ZIPKIN_PORT/zipkin/traces/$trace_id

Running in the background (logs in $LOG_DIR; the apps and sidecars in dapr.log, via the Dapr CLI):
  comms   http://localhost:$COMMS_PORT/greet     sidecar HTTP $COMMS_DAPR_HTTP_PORT, gRPC $COMMS_DAPR_GRPC_PORT, metrics $COMMS_DAPR_METRICS_PORT
  greeter http://localhost:$GREETER_PORT/greet     sidecar HTTP $GREETER_DAPR_HTTP_PORT, gRPC $GREETER_DAPR_GRPC_PORT, metrics $GREETER_DAPR_METRICS_PORT
  Zipkin  http://localhost:$ZIPKIN_PORT/zipkin/
  Sentry  127.0.0.1:$SENTRY_PORT (the sidecars' mTLS certificates); tokens in $RUN_DIR/tokens.env
Try:  curl -X POST localhost:$COMMS_PORT/greet -H 'Content-Type: application/json' -d '{"name":"Ada"}'
Load: BASE_URL=http://localhost:$COMMS_PORT scripts/load.sh
Stop: ${env_prefix}scripts/local-down.sh
EOF
