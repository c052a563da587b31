# shellcheck shell=bash
# Helpers of the cluster suite: lib.sh's, the cluster's kubectl, port-forwards.
# shellcheck source=../../lib.sh
source "$BATS_TEST_DIRNAME/../../lib.sh"
# shellcheck source=../../cluster/common.sh
source "$SCRIPTS_DIR/cluster/common.sh"
load_versions
PATH="$(cluster_tools_dir):$PATH"

# need_cluster : the cluster's kubeconfig, for kubectl in every test of the file, or a clear refusal.
need_cluster() {
  export KUBECONFIG=$KUBECONFIG_FILE
  [[ -s "$KUBECONFIG" ]] || { echo "no cluster: run scripts/cluster-up.sh first" >&2; return 1; }
}

# port_forward NAMESPACE TARGET PORT : prints the local port of a new `kubectl port-forward` to it.
port_forward() {
  local out line
  out=$(mktemp "$BATS_TEST_TMPDIR/port-forward.XXXXXX")
  kubectl port-forward -n "$1" "$2" ":$3" >"$out" 2>&1 &
  echo $! >>"$BATS_TEST_TMPDIR/port-forwards"
  for _ in $(seq 100); do
    line=$(grep -m1 -o 'Forwarding from 127.0.0.1:[0-9]*' "$out") && { echo "${line##*:}"; return 0; }
    sleep 0.1
  done
  cat "$out" >&2
  return 1
}
stop_port_forwards() {
  [[ -f "$BATS_TEST_TMPDIR/port-forwards" ]] || return 0
  xargs kill <"$BATS_TEST_TMPDIR/port-forwards" 2>/dev/null || true
  rm -f "$BATS_TEST_TMPDIR/port-forwards"
}

# pod_metric NAMESPACE SELECTOR NAME : NAME (or a prefix of it ending in a label) summed over the metrics port (9090) of the selected pods.
pod_metric() {
  local ip
  for ip in $(kubectl get pods -n "$1" -l "$2" -o jsonpath='{.items[*].status.podIP}'); do
    curl -fsS --max-time 5 "http://$ip:9090/metrics"
  done | awk -v m="$3" 'index($1, m) == 1 && substr($1, length(m) + 1) ~ /^([{},].*)?$/ { sum += $NF } END { print sum + 0 }'
}

# deploy_intruder : a copy of comms under another app id (its own injected sidecar), waited for.
deploy_intruder() {
  kubectl get deployment -n dapr-services comms -o json | jq '
    {apiVersion, kind, metadata: {name: "intruder", namespace: .metadata.namespace},
     spec: (.spec | .replicas = 1 | .selector.matchLabels = {"app.kubernetes.io/name": "intruder"}
       | .template.metadata.labels = {"app.kubernetes.io/name": "intruder"}
       | .template.metadata.annotations["dapr.io/app-id"] = "intruder")}' | kubectl apply -f -
  kubectl rollout status -n dapr-services deployment/intruder --timeout=180s
}

# vegeta_attack URL RATE DURATION : POSTs a greeting at RATE per second; vegeta's results on stdout.
vegeta_attack() {
  local vegeta
  vegeta=$(go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION")
  jq -nc --arg url "$1" '{method: "POST", url: $url, header: {"Content-Type": ["application/json"]},
    body: ("{\"name\":\"Roll\"}" | @base64)}' | exec "$vegeta" attack -format=json -rate="$2/s" -duration="$3" -timeout=10s
}

# answers_summary RESULTS : "total=N ok=N fallback=N errors=N" from vegeta's results, then each kind
# of fallback or error with its count, first and last time.
answers_summary() {
  "$(go_tool vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION")" encode --to json <"$1" | jq -rs '
    def answer: if .code == 200 then (.body | @base64d | fromjson | if .fallback then "fallback" else "ok" end) else "error" end;
    (map(answer) | group_by(.) | map({key: .[0], value: length}) | from_entries) as $n
    | "total=\(length) ok=\($n.ok // 0) fallback=\($n.fallback // 0) errors=\($n.error // 0)"
      + (map(answer as $a | select($a != "ok") | {why: (if $a == "fallback" then "fallback" elif .code == 0 then .error else "HTTP \(.code)" end), at: .timestamp})
         | group_by(.why) | map(" | \(length) x \(.[0].why) from \(.[0].at) to \(.[-1].at)") | add // "")'
}

# load_start URL RATE SECONDS : a greeting POSTed to URL at RATE per second for SECONDS, in the background
# (bounded: a background job ignores SIGINT); fd 3 is bats'. load_check or teardown's load_stop ends it.
load_start() {
  vegeta_attack "$1" "$2" "${3}s" >"$BATS_TEST_TMPDIR/load.bin" 3>&- &
  echo $! >"$BATS_TEST_TMPDIR/load.pid"
  LOAD_TOTAL=$(($2 * $3))
}
load_stop() {
  [[ -f "$BATS_TEST_TMPDIR/load.pid" ]] || return 0
  kill "$(cat "$BATS_TEST_TMPDIR/load.pid")" 2>/dev/null || true
  rm -f "$BATS_TEST_TMPDIR/load.pid"
}
# load_check : waits for load_start's load to end (it must outlast the test's steps) and checks that every
# request of it was greeted by greeter; if not, prints when each fallback and error happened, and the state
# of comms' sidecars' circuit breakers. The counts go to bats' output either way.
load_check() {
  local pid summary
  pid=$(cat "$BATS_TEST_TMPDIR/load.pid")
  kill -0 "$pid" || { echo "the load ended before the test's steps did: make it longer"; return 1; }
  wait "$pid"
  rm -f "$BATS_TEST_TMPDIR/load.pid"
  summary=$(answers_summary "$BATS_TEST_TMPDIR/load.bin")
  echo "# $summary" >&3
  [[ "$summary" == "total=$LOAD_TOTAL ok=$LOAD_TOTAL fallback=0 errors=0" ]] && return 0
  echo "$summary" | tr '|' '\n'
  breaker_states
  return 1
}

# breaker_states : the state of the circuit breaker of each comms pod's sidecar, as the last call found it.
breaker_states() {
  local ip
  echo "comms' sidecars' circuit breakers:"
  for ip in $(kubectl get pods -n dapr-services -l app.kubernetes.io/name=comms -o jsonpath='{.items[*].status.podIP}'); do
    curl -fsS --max-time 5 "http://$ip:9090/metrics" | grep '^dapr_resiliency_cb_state.* 1$' | sed "s/^/  $ip: /"
  done
}

# keep_pod_logs : after a failed test, the pods of the app and of Dapr and their logs, into
# $POD_LOGS_DIR (scripts/test.sh: target/cluster-suite/) or bats' run directory.
keep_pod_logs() {
  local dir=${POD_LOGS_DIR:-$BATS_RUN_TMPDIR}/failed-test-$BATS_TEST_NUMBER ns pod
  mkdir -p "$dir"
  for ns in dapr-services dapr-system; do
    kubectl get pods -n "$ns" -o wide >"$dir/$ns.txt" 2>&1
    for pod in $(kubectl get pods -n "$ns" -o name 2>/dev/null); do
      kubectl logs -n "$ns" "$pod" --all-containers --prefix --timestamps >"$dir/$ns-${pod#pod/}.log" 2>&1
    done
  done
}
