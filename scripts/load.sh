#!/usr/bin/env bash
# The seed's load, `seq | xargs -P | curl` against comms, with a summary (see usage).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/load.sh [-n REQUESTS] [-c CONCURRENCY] [-u BASE_URL] [-t SECONDS] [-v] [-h]

  -n REQUESTS     how many requests to send            (env N, default 100)
  -c CONCURRENCY  how many run at once                 (env C, default 10)
  -u BASE_URL     where comms answers                  (env BASE_URL, default http://localhost:8080)
  -t SECONDS      time bound of one request            (env REQUEST_TIMEOUT, default 10)
  -v              also print every answer (index, status, seconds, body), fastest first

Request i sends {"name": "user-i"}. A success is a 200 with "fallback": false, a fallback a 200
with "fallback": true; anything else (other status, no answer) is an error.
Exits 0 when no request errored, 1 when some did, 2 on bad usage.
EOF
}

N="${N:-100}" C="${C:-10}" BASE_URL="${BASE_URL:-http://localhost:8080}" REQUEST_TIMEOUT="${REQUEST_TIMEOUT:-10}" VERBOSE=false
while getopts ':n:c:u:t:vh' opt; do
  case "$opt" in
    n) N="$OPTARG" ;;
    c) C="$OPTARG" ;;
    u) BASE_URL="$OPTARG" ;;
    t) REQUEST_TIMEOUT="$OPTARG" ;;
    v) VERBOSE=true ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
(($# == 0)) || { usage >&2; exit 2; }
for pair in "REQUESTS:$N" "CONCURRENCY:$C" "SECONDS:$REQUEST_TIMEOUT"; do
  [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]] || { echo "$SCRIPT_NAME: error: ${pair%%:*} must be a positive integer, got '${pair#*:}'" >&2; exit 2; }
done

need_tools curl xargs seq sort awk
work=""
make_temp_dir work
url="${BASE_URL%/}/greet"
# bash's `time` below prints the load's wall-clock seconds, with a '.' for awk (C number formats).
export LC_ALL=C TIMEFORMAT=%R

log "load: $N requests, $C at a time, to $url"
# One curl per request; its -w line (index, status, seconds) is one small write into the pipe,
# so concurrent lines never interleave. A failed curl still prints its line, with status 000.
{ time seq 1 "$N" | xargs -P "$C" -I{} curl -sS --max-time "$REQUEST_TIMEOUT" -o "$work/body.{}" \
  -w '{} %{http_code} %{time_total}\n' -X POST -H 'Content-Type: application/json' \
  --data '{"name":"user-{}"}' "$url" >"$work/results" 2>"$work/curl-errors"; } 2>"$work/elapsed" || true

[[ ! -s "$work/curl-errors" ]] || { echo "curl reported (first lines):"; sort "$work/curl-errors" | uniq -c | sort -rn | head -5; } >&2

# Each answer classified by its status and body, fastest first for the nearest-rank percentiles of
# the requests that printed a line. One that printed none (xargs could not start curl) is an error.
sort -k3,3n "$work/results" | awk -v n="$N" -v c="$C" -v dir="$work" -v verbose="$VERBOSE" -v elapsed="$(cat "$work/elapsed")" '
  function pct(p, r) { r = int(p * NR / 100); r += (r < p * NR / 100); return NR ? sprintf("%.1f", ms[r < 1 ? 1 : r]) : "n/a" }
  { body = ""; file = dir "/body." $1; getline body < file; close(file)
    if (verbose == "true") printf "--- request %s: %s %s s %s\n", $1, $2, $3, body
    if ($2 == 200 && body ~ /"fallback"[[:space:]]*:[[:space:]]*false/) ok++
    else if ($2 == 200 && body ~ /"fallback"[[:space:]]*:[[:space:]]*true/) fallback++
    ms[NR] = $3 * 1000 }
  END { printf "requests:   %d\nsuccesses:  %d\nfallbacks:  %d\nerrors:     %d\n", n, ok, fallback, n - ok - fallback
    printf "latency ms: p50 %s  p95 %s  p99 %s\n", pct(50), pct(95), pct(99)
    printf "throughput: %.1f requests/s (%d in %.2f s, concurrency %d)\n", (elapsed > 0 ? n / elapsed : 0), n, elapsed, c
    exit (ok + fallback < n) }'
