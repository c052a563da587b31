#!/usr/bin/env bash
# Sends N POST /greet requests to comms, C at a time (the seed's `seq | xargs -P | curl`),
# then prints a summary: requests, successes, fallbacks, errors, latency percentiles, throughput.
# Works the same against the local run and through `kubectl port-forward` (both on localhost:8080).
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
  -v              print every answer as it arrives

Request i sends {"name": "user-i"}. A success is a 200 with "fallback": false, a fallback a 200
with "fallback": true; anything else (other status, no answer) is an error.
Exits 0 when no request errored, 1 when some did, 2 on bad usage.
EOF
}

N="${N:-100}"
C="${C:-10}"
BASE_URL="${BASE_URL:-http://localhost:8080}"
REQUEST_TIMEOUT="${REQUEST_TIMEOUT:-10}"
VERBOSE=false

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
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

for pair in "REQUESTS:$N" "CONCURRENCY:$C" "SECONDS:$REQUEST_TIMEOUT"; do
  if ! [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]]; then
    echo "load.sh: ${pair%%:*} must be a positive integer, got '${pair#*:}'" >&2
    exit 2
  fi
done

need_tools curl xargs seq sort awk grep date

work=""
make_temp_dir work

# Wall clock in nanoseconds: bash 5's EPOCHREALTIME, else date (whole seconds where %N is unknown).
now_ns() {
  local t
  if [[ -n "${EPOCHREALTIME:-}" ]]; then
    t="${EPOCHREALTIME//[.,]/}"
    printf '%s000\n' "$t"
  else
    t="$(date +%s%N)"
    [[ "$t" == *N ]] && t="${t%N}000000000"
    printf '%s\n' "$t"
  fi
}
url="${BASE_URL%/}/greet"

log "load: $N requests, $C at a time, to $url" >&2
start_ns="$(now_ns)"
# One curl per request; its -w line (index, status, seconds) is one small write into the pipe,
# so concurrent lines never interleave. A failed curl still prints its line, with status 000.
seq 1 "$N" \
  | xargs -P "$C" -I{} curl -sS --max-time "$REQUEST_TIMEOUT" \
      -o "$work/body.{}" -w '{} %{http_code} %{time_total}\n' \
      -X POST -H 'Content-Type: application/json' \
      --data '{"name":"user-{}"}' "$url" 2>"$work/curl-errors" \
  > "$work/results" || true
end_ns="$(now_ns)"

# Classify each request from its status and body.
successes=0 fallbacks=0 errors=0
while read -r i code seconds; do
  body="$work/body.$i"
  kind=error
  if [[ "$code" == 200 && -f "$body" ]]; then
    if grep -Eq '"fallback"[[:space:]]*:[[:space:]]*false' "$body"; then
      kind=success
    elif grep -Eq '"fallback"[[:space:]]*:[[:space:]]*true' "$body"; then
      kind=fallback
    fi
  fi
  case "$kind" in
    success) successes=$((successes + 1)) ;;
    fallback) fallbacks=$((fallbacks + 1)) ;;
    *) errors=$((errors + 1)) ;;
  esac
  if [[ "$VERBOSE" == true ]]; then
    printf -- '--- request %s: %s %s s %s\n' "$i" "$code" "$seconds" "$(cat "$body" 2>/dev/null || true)"
  fi
done <"$work/results"

answered="$(wc -l <"$work/results" | tr -d ' ')"
# A request that printed no line at all (xargs could not start curl) is lost: count it as an error.
lost=$((N - answered))
((lost > 0)) && errors=$((errors + lost))

# Nearest-rank percentiles of time_total, in milliseconds, over every request that printed a line.
percentiles="$(awk '{ printf "%.1f\n", $3 * 1000 }' "$work/results" | sort -n \
  | awk '{ v[NR] = $1 }
         END {
           split("50 95 99", ps, " ")
           for (k = 1; k <= 3; k++) {
             if (NR == 0) { printf "p%s n/a  ", ps[k]; continue }
             r = int((ps[k] / 100) * NR); if (r < (ps[k] / 100) * NR) r++; if (r < 1) r = 1
             printf "p%s %s  ", ps[k], v[r]
           }
         }')"
elapsed="$(awk -v s="$start_ns" -v e="$end_ns" 'BEGIN { printf "%.2f", (e - s) / 1e9 }')"
rps="$(awk -v n="$N" -v s="$start_ns" -v e="$end_ns" 'BEGIN { d = (e - s) / 1e9; printf "%.1f", (d > 0 ? n / d : 0) }')"

if [[ -s "$work/curl-errors" ]]; then
  echo "curl reported (first lines):" >&2
  sort "$work/curl-errors" | uniq -c | sort -rn | head -5 >&2
fi

cat <<EOF
requests:   $N
successes:  $successes
fallbacks:  $fallbacks
errors:     $errors
latency ms: ${percentiles%  }
throughput: $rps requests/s ($N in ${elapsed} s, concurrency $C)
EOF

((errors == 0))
