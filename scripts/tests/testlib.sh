# shellcheck shell=bash
# The harness of the bash tests of scripts/: a test file defines functions test_*, sources this file
# and ends with `run_tests`. Each test runs with `set -e` in a subshell, in its own temp dir $TEST_TMP.
# One "ok"/"FAIL" line per test, then "N passed, N failed"; with TEST_RESULTS=FILE (scripts/lint.sh
# sets it) "pass NAME"/"fail NAME" lines are appended there instead of the count.

set -uo pipefail

# Used by the test files that source this one.
# shellcheck disable=SC2034
{
  TESTS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
  REPO_ROOT=$(cd -- "$TESTS_DIR/../.." && pwd)
  SCRIPTS="$REPO_ROOT/scripts"
  TEST_TMP="" CALLS="" OUT="" ERR="" RC=0 SANDBOX_PATH=""
  # Image tags at the edges of lib.sh's need_image_tag (an image tag that is also a label value).
  TAG_63=$(printf 'a%.0s' {1..63})
  GOOD_TAGS=(0.1.0 v1.0.0 latest 1 Release_2.0-rc.1 "$TAG_63")
  BAD_TAGS=("" "${TAG_63}b" 1.0- 1.0. 1.0_ .1 -1 _1 "1 0" " 1" "1 " a/b a:b)
}

fail() { printf '      %s\n' "$@" >&2; exit 1; }
assert_eq() { [[ "$1" == "$2" ]] || fail "${3:-value}: expected [$1], got [$2]"; } # EXPECTED ACTUAL [WHAT]
assert_contains() { [[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain: $2" "--- it was:" "$1"; }
assert_not_contains() { [[ "$1" != *"$2"* ]] || fail "${3:-output} contains what it must not: $2"; }
assert_status() { [[ "$1" == "$2" ]] || fail "exit status: expected $1, got $2" "--- stdout:" "$OUT" "--- stderr:" "$ERR"; }
assert_failed() { [[ "$1" != 0 ]] || fail "expected a non-zero exit status, got 0" "--- stdout:" "$OUT"; }

# assert_in_order TEXT NEEDLE... : each needle is found on a line after the previous needle's line.
assert_in_order() {
  local text=$1 rest=$1 needle
  shift
  for needle in "$@"; do
    [[ "$rest" == *"$needle"* ]] || fail "not found after the previous needle: $needle" "--- in:" "$text"
    rest=${rest#*"$needle"}
    if [[ "$rest" == *$'\n'* ]]; then rest=${rest#*$'\n'}; else rest=""; fi
  done
}

# capture CMD... : runs CMD (with the sandbox PATH, if sandbox_path was called), stdout in $OUT,
# stderr in $ERR, exit status in $RC. Never fails. Stdin is empty: no terminal to prompt on.
ENV_BIN=$(command -v env)
capture() {
  RC=0
  "$ENV_BIN" PATH="${SANDBOX_PATH:-$PATH}" "$@" >"$TEST_TMP/.out" 2>"$TEST_TMP/.err" </dev/null || RC=$?
  OUT=$(cat "$TEST_TMP/.out")
  ERR=$(cat "$TEST_TMP/.err")
}

# refuses "ERROR" CMD... : CMD fails saying ERROR, before it prints a plan line or calls a tool.
refuses() {
  capture "${@:2}"
  assert_failed "$RC"
  assert_contains "$ERR" "$1" "stderr"
  ! grep -q '^+ ' <<<"$OUT"$'\n'"$ERR" || fail "it printed a plan:" "$OUT$ERR"
  assert_eq "" "$(calls)" "tool calls"
}

# check_cli SCRIPT "OPTIONS" [STUB...] : --help prints "Usage: scripts/SCRIPT OPTIONS" first, with no
# tool at hand, and an unknown argument is refused by name before any tool is called.
check_cli() {
  sandbox_path
  capture "$SCRIPTS/$1" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/$1 $2" "$(head -n1 <<<"$OUT")" "first line of --help"
  sandbox_path "${@:3}"
  refuses "unknown argument: --bogus" "$SCRIPTS/$1" --bogus
}

# check_missing_tools SCRIPT [ARG...] : with none of $TOOLS at hand (and $INPUTS set), SCRIPT refuses
# before any call, naming each missing tool with where to get it.
check_missing_tools() {
  local t
  sandbox_path
  refuses "missing required tool(s): ${TOOLS[*]}" env "${INPUTS[@]}" "$SCRIPTS/$1" "${@:2}"
  for t in "${TOOLS[@]}"; do assert_contains "$ERR" "  - $t: "; done
  assert_contains "$ERR" "https://"
}

# sandbox_path [STUB...] : capture then runs with PATH=$TEST_TMP/bin: only the utilities the scripts
# may use (so a test can take a tool away even when the machine has it), and a stub for each STUB that
# records "NAME ARGS" in $CALLS, then sources $TEST_TMP/stub-NAME.sh if there is one, else exits 97.
sandbox_path() {
  local bin="$TEST_TMP/bin" u real s
  mkdir -p "$bin"
  for u in bash env sh cat mktemp rm rmdir mkdir dirname basename awk sed grep tr sort head tail \
    cut wc sleep chmod cp mv ls tee date uname id readlink od; do
    real=$(command -v "$u" 2>/dev/null) && [[ "$real" == /* ]] && ln -sf "$real" "$bin/$u"
  done
  for s in "$@"; do
    cat >"$bin/$s" <<EOF
#!$(command -v bash)
printf '%s\n' "$s \$*" >>"$CALLS"
[[ ! -f "$TEST_TMP/stub-$s.sh" ]] || source "$TEST_TMP/stub-$s.sh"
exit 97
EOF
    chmod +x "$bin/$s"
  done
  SANDBOX_PATH="$bin"
}

# calls : what the stubs were asked to do, or nothing.
calls() { [[ -f "$CALLS" ]] && cat "$CALLS"; return 0; }


# fake_cloud : stubs of aws, eksctl, kubectl and helm that answer as the real CLIs do (their arguments,
# output and exit status) for one AWS account kept as files under $WORLD: log-group and ebs/VOLUME
# outlive the cluster; cluster/status (ACTIVE, CREATING, ...), cluster/release/NAME (Helm, its arguments),
# cluster/crd.dapr (Helm leaves it), cluster/ns/NS/secret.NAME, pvc.NAME and app (the kustomization
# applied), cluster/applied/FILE, cluster/gp2-default do not. A test sets a starting state (or makes one with deploy.sh), runs a script
# for real, reads `calls` and `world`. A line in $WORLD/fail-once makes the next call starting with it
# fail, as an interruption would. An ACTIVE cluster alone stands for any cluster kubectl points at.
fake_cloud() {
  local t
  WORLD="$TEST_TMP/world"
  mkdir -p "$WORLD"
  sandbox_path aws eksctl kubectl helm
  for t in aws eksctl kubectl helm; do ln -sf fake-cloud.sh "$TEST_TMP/stub-$t.sh"; done
  cat >"$TEST_TMP/fake-cloud.sh" <<'EOF'
W="$TEST_TMP/world" c="$TEST_TMP/world/cluster" cmd="${0##*/} $*" ns=default prev=""
err() { printf '%s\n' "$2" >&2; exit "$1"; }
for a in "$@"; do [[ "$prev" == -n || "$prev" == --namespace ]] && ns=$a; prev=$a; done
[[ ! -d "$c" ]] || mkdir -p "$c/ns/default" "$c/release" "$c/applied"
if [[ -f "$W/fail-once" && "$cmd" == "$(cat "$W/fail-once")"* ]]; then rm "$W/fail-once"; err 1 "interrupted"; fi
case "$cmd" in
  "kubectl config current-context") echo fake-context; exit 0 ;;
  kubectl* | helm*) [[ "$(cat "$c/status" 2>/dev/null)" == ACTIVE ]] ||
    err 1 "Unable to connect to the server: dial tcp: lookup cluster endpoint: no such host" ;;
esac
case "$cmd" in
  "aws eks describe-cluster "*) [[ -f "$c/status" ]] ||
    err 254 "An error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: No cluster found for name: $4."
    cat "$c/status" ;;
  "aws eks wait cluster-active "*) echo ACTIVE >"$c/status" ;;
  "aws logs delete-log-group "*) [[ "$(cat "$W/log-group" 2>/dev/null)" == "$4" ]] ||
    err 254 "An error occurred (ResourceNotFoundException) when calling the DeleteLogGroup operation: The specified log group does not exist."
    rm "$W/log-group" ;;
  "eksctl create cluster -f "*) [[ ! -e "$c" ]] || err 1 "Error: cluster already exists"
    mkdir -p "$c" && echo ACTIVE >"$c/status"
    awk '/^metadata:/ { m = 1 } m && /^  name:/ { print "/aws/eks/" $2 "/cluster"; exit }' "$4" >"$W/log-group" ;;
  "eksctl delete cluster "*) [[ -e "$c" ]] || err 1 "Error: ResourceNotFoundException: No cluster found"; rm -rf "$c" ;;
  "helm upgrade --install "*) [[ "$*" == *--create-namespace* ]] && mkdir -p "$c/ns/$ns"
    [[ -d "$c/ns/$ns" ]] || err 1 "Error: create: failed to create: namespaces \"$ns\" not found"
    if [[ "$3" == dapr && ! -f "$c/release/dapr" ]]; then # the CRDs, the scheduler's volumes, the injector
      : >"$c/crd.dapr" && mkdir -p "$W/ebs" && echo 1 >"$c/release/dapr.injector-generation"
      for i in 0 1 2; do echo "pvc-$i" >"$c/ns/$ns/pvc.dapr-scheduler-data-dir-dapr-scheduler-server-$i"; echo 16Gi >"$W/ebs/pvc-$i"; done
    elif [[ "$3" == dapr && "$(cat "$c/release/dapr")" != "$*" ]]; then
      echo $(($(cat "$c/release/dapr.injector-generation") + 1)) >"$c/release/dapr.injector-generation"
    fi
    echo "$*" >"$c/release/$3" ;;
  "helm uninstall "*) [[ -f "$c/release/$2" || "$*" == *--ignore-not-found* ]] ||
    err 1 "Error: uninstall: Release not loaded: $2: release: not found"
    rm -f "$c/release/$2" "$c/release/$2".* ;;
  "kubectl get deployment dapr-sidecar-injector "*) [[ -f "$c/release/dapr" ]] ||
    err 1 "Error from server (NotFound): deployments.apps \"$3\" not found"
    cat "$c/release/dapr.injector-generation" ;;
  "kubectl delete crd --selector app.kubernetes.io/part-of=dapr") rm -f "$c/crd.dapr" ;;
  "kubectl get storageclass gp2 "*) [[ -f "$c/gp2-default" ]] && echo true ;;
  "kubectl annotate storageclass gp2 "*) rm -f "$c/gp2-default" ;;
  "kubectl get namespace "*) [[ -d "$c/ns/$3" ]] || err 1 "Error from server (NotFound): namespaces \"$3\" not found" ;;
  "kubectl delete namespace "*) rm -rf "${c:?}/ns/$3" ;;
  "kubectl get secret "*) [[ -f "$c/ns/$ns/secret.$3" ]] || err 1 "Error from server (NotFound): secrets \"$3\" not found" ;;
  "kubectl create secret generic "*--dry-run=client*) printf 'Secret %s %s ' "$ns" "$4"; cat ;;
  "kubectl create secret generic "*) [[ -d "$c/ns/$ns" ]] || err 1 "error: failed to create secret namespaces \"$ns\" not found"
    [[ ! -e "$c/ns/$ns/secret.$4" ]] || err 1 "error: failed to create secret secrets \"$4\" already exists"
    cat >"$c/ns/$ns/secret.$4" ;;
  "kubectl apply -f - "* | "kubectl apply -f -") read -r _ sns name value; printf '%s' "$value" >"$c/ns/$sns/secret.$name" ;;
  "kubectl delete secret "*) rm -f "$c/ns/$ns/secret.$3" ;;
  "kubectl apply -f "* | "kubectl delete -f "*) kind=$(awk '$1 == "kind:" { print $2; exit }' "$3")
    [[ "$kind" != DatadogAgent || -f "$c/release/datadog-operator" ]] ||
      err 1 "error: resource mapping not found: no matches for kind \"DatadogAgent\" in version \"datadoghq.com/v2alpha1\""
    if [[ "$1" == apply ]]; then cp "$3" "$c/applied/${3//\//_}"; else rm -f "$c/applied/${3//\//_}"; fi ;;
  # The Operator makes the Agent's DaemonSet once a DatadogAgent is applied.
  "kubectl wait --for=create daemonset/"*) grep -qs "^kind: DatadogAgent" "$c"/applied/* ||
    err 1 "error: timed out waiting for the condition on daemonsets/${3#*/}" ;;
  "kubectl get crd datadogagents.datadoghq.com"*) [[ -f "$c/release/datadog-operator" ]] || err 1 "Error from server (NotFound): customresourcedefinitions not found" ;;
  "kubectl apply -k "*--selector\ app.kubernetes.io/name=*) echo "${cmd##*=}" >"$c/app-namespace"; mkdir -p "$c/ns/${cmd##*=}" ;;
  "kubectl apply -k "*) [[ -f "$c/app-namespace" ]] || err 1 "Error from server (NotFound): namespaces not found"
    cp "$3/kustomization.yaml" "$c/ns/$(cat "$c/app-namespace")/app" ;;
  "kubectl delete -k "*) [[ -f "$c/crd.dapr" ]] || err 1 "error: resource mapping not found: no matches for kind \"Configuration\" in version \"dapr.io/v1alpha1\""
    [[ ! -f "$c/app-namespace" ]] || rm -rf "$c/ns/$(cat "$c/app-namespace")" "$c/app-namespace" ;;
  "kubectl get pvc "*) cat "$c/ns/$ns"/pvc.* 2>/dev/null ;;
  "kubectl delete pvc --all "*) for f in "$c/ns/$ns"/pvc.*; do [[ -f "$f" ]] && rm -f "$W/ebs/$(cat "$f")" "$f"; done ;;
  "kubectl wait --for=delete pv/"*) v=${3#pv/}; [[ ! -e "$W/ebs/$v" ]] || err 1 "error: timed out waiting for the condition on persistentvolumes/$v" ;;
  "kubectl wait --for=delete namespace/"*) [[ ! -d "$c/ns/${3#namespace/}" ]] || err 1 "error: timed out waiting for the condition on namespaces/${3#namespace/}" ;;
  "aws eks update-kubeconfig "* | "kubectl rollout "*) ;;
  *) err 97 "fake cloud: no answer for: $cmd" ;;
esac
exit 0
EOF
}

# world : the fake cloud's state, every file with its content, to compare before and after a run.
world() { (cd "$WORLD" && find . | sort && grep -r '' . | sort); }

run_tests() {
  local file name passed=0 failed=0 rc result
  file=$(basename -- "${BASH_SOURCE[1]}")
  for name in $(declare -F | awk '$3 ~ /^test_/ {print $3}'); do
    TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/scripts-test.XXXXXX")
    CALLS="$TEST_TMP/calls.log" SANDBOX_PATH=""
    export TEST_TMP CALLS
    (cd "$TEST_TMP" && set -e && "$name") >"$TEST_TMP/.test.log" 2>&1 # alone: `if` would turn off set -e
    rc=$?
    if ((rc == 0)); then passed=$((passed + 1)) result=pass; printf 'ok   %s: %s\n' "$file" "$name"
    else failed=$((failed + 1)) result=fail; printf 'FAIL %s: %s\n%s\n' "$file" "$name" "$(cat "$TEST_TMP/.test.log")"; fi
    rm -rf -- "$TEST_TMP"
    [[ -z "${TEST_RESULTS:-}" ]] || printf '%s %s:%s\n' "$result" "$file" "$name" >>"$TEST_RESULTS"
  done
  [[ -n "${TEST_RESULTS:-}" ]] || printf '%d passed, %d failed\n' "$passed" "$failed"
  ((failed == 0))
}
