#!/usr/bin/env bash
# Measures what each process of the system uses under the load script, to size the Kubernetes
# requests and limits (kubernetes/base/sizing.yaml): starts the whole local stack on free ports with
# the JVM flags of the container image, sends a warm-up and then the measured load, and prints each
# process's peak resident memory and CPU time. Stops everything it started, even on failure.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/measure.sh

Environment:
  N, C          measured requests and concurrency (default 3000 and 10)
  WARMUP        requests sent first, not measured (default 500)
  HEAP          the apps' -Xmx: 70% of the container memory limit, as the image's
                -XX:MaxRAMPercentage=70 gives (default 358m, for a 512Mi limit)
EOF
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

need_tools python3 curl
N="${N:-3000}"
C="${C:-10}"
WARMUP="${WARMUP:-500}"
HEAP="${HEAP:-358m}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
for var in COMMS_PORT COMMS_DAPR_HTTP_PORT COMMS_DAPR_GRPC_PORT COMMS_DAPR_METRICS_PORT \
  GREETER_PORT GREETER_DAPR_HTTP_PORT GREETER_DAPR_GRPC_PORT GREETER_DAPR_METRICS_PORT ZIPKIN_PORT; do
  export "$var=$(free_port)"
done
make_temp_dir RUN_DIR
export LOCAL_RUN_DIR="$RUN_DIR"
# The container image's own JVM flags, read from the Jib <jvmFlags> in pom.xml, with the heap that
# MaxRAMPercentage would give under the container's memory limit made explicit.
image_jvm_flags() {
  python3 - "$REPO_ROOT/pom.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
flags = [f.text.strip() for f in ET.parse(sys.argv[1]).getroot().iterfind(".//m:jvmFlags/m:jvmFlag", ns)]
print(" ".join(f for f in flags if not f.startswith("-XX:MaxRAMPercentage")))
PY
}
APP_JAVA_OPTS="-Xmx$HEAP $(image_jvm_flags)"
export APP_JAVA_OPTS

# Runs before lib.sh's own exit handler, which then removes the run directory.
stop_stack() {
  local rc=$?
  "$SCRIPTS_DIR/local-down.sh" >/dev/null 2>&1 || true
  _lib_on_exit
  return "$rc"
}
trap stop_stack EXIT

log "starting the stack on free ports (apps with: $APP_JAVA_OPTS)"
"$SCRIPTS_DIR/local-up.sh" >"$RUN_DIR/local-up.out" 2>&1 || {
  tail -n 30 "$RUN_DIR/local-up.out" >&2
  die "local-up failed"
}

base_url="http://127.0.0.1:$COMMS_PORT"
log "warm-up: $WARMUP requests"
N="$WARMUP" C="$C" BASE_URL="$base_url" "$SCRIPTS_DIR/load.sh" >/dev/null 2>&1 || die "warm-up load failed"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A before
while read -r name pid; do before[$name]=$(cpu_ticks "$pid"); done <"$RUN_DIR/pids"

log "measured: $N requests at concurrency $C"
N="$N" C="$C" BASE_URL="$base_url" "$SCRIPTS_DIR/load.sh" | tee "$RUN_DIR/load.out"

hz=$(getconf CLK_TCK)
printf '\n%-14s %14s %14s %18s\n' process "peak RSS MiB" "RSS now MiB" "CPU ms / request"
while read -r name pid; do
  [[ "$name" == zipkin ]] && continue
  hwm=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
  rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status")
  ticks=$(($(cpu_ticks "$pid") - before[$name]))
  per_request=$(awk -v t="$ticks" -v hz="$hz" -v n="$N" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  printf '%-14s %14s %14s %18s\n' "$name" "$hwm" "$rss" "$per_request"
done <"$RUN_DIR/pids"
