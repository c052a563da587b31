# shellcheck shell=bash
# The bats tests' helper: each test runs the scripts of scripts/ (or of $SCRIPTS_UNDER_TEST, a copy to break)
# in a clean environment, on a PATH of plain utilities and stand-ins of aws, eksctl, kubectl, helm, java and
# curl (Datadog's API), which record each call as one line (see canon: no check pins the order of options)
# and answer as the real CLIs do for one account kept under $W: log-group, ebs/VOLUME and aws/ (the greetings'
# events: dynamodb/TABLE, sns/TOPIC, sns/TOPIC.sub.QUEUE, sqs/QUEUE/, s3/BUCKET/{owner,objects/KEY}) outlive
# cluster/ (status, addon.NAME, pia.SERVICEACCOUNT, release/NAME, injector, crd.dapr, gp2-default,
# ns/NS/{secret.NAME,pvc.N,app}, applied/FILE). A line in $W/fail-once fails the next call it matches, as an
# interruption would.
SCRIPTS=${SCRIPTS_UNDER_TEST:-${BATS_TEST_DIRNAME:-.}/..}
# shellcheck disable=SC2034 # the repository, for the tests
REPO=$SCRIPTS/..
bats_require_minimum_version 1.5.0 2>/dev/null || true # run --separate-stderr
ENV=() # the test's VAR=VALUE settings of the scripts it runs

# canon WORD... : a call as one line: its positional words in order, then its options sorted by name (one
# given twice keeps its order) as -o or --opt=value (-n as --namespace). An option takes the next word as
# its value unless it is one of FLAGS, is given as --opt=value or the next word starts with '-'.
FLAGS=" --install --wait --create-namespace --ignore-not-found --overwrite --disable-nodegroup-eviction --all -sS --fail-with-body -B -am --recursive "
# The account the aws stand-in is logged in to.
ACCOUNT=111122223333
canon() {
  local pos=() opts=() w
  while (($#)); do
    w=$1 && shift
    [[ $w != -n ]] || w=--namespace
    if [[ $w != -?* ]]; then pos+=("$w")
    elif [[ $w == *=* || $FLAGS == *" $w "* || $# == 0 || $1 == -?* ]]; then opts+=("$w")
    else opts+=("$w=$1") && shift; fi
  done
  printf '%s\n' "${pos[*]}${opts[*]:+ $(printf '%s\n' "${opts[@]}" | LC_ALL=C sort -s -t= -k1,1 | paste -sd' ')}"
}

# matches LINE SPEC : the canon LINE starts with the positional words of SPEC (words, as a command is
# written) and has each of its options (one given without its value: with any value).
matches() {
  local words spec line w i=0
  read -ra words <<<"$2"
  read -ra spec <<<"$(canon "${words[@]}")"
  read -ra line <<<"$1"
  for w in "${spec[@]}"; do
    if [[ $w == -?* ]]; then [[ " $1 " == *" $w "* || " $1 " == *" $w="* ]] || return 1
    else [[ ${line[i]:-} == "$w" ]] || return 1; i=$((i + 1)); fi
  done
}

# in_order FILE SPEC... : FILE has a line matching each SPEC, each after the one before.
# shellcheck disable=SC2094 # it reads FILE and writes stderr
in_order() {
  local line spec
  for spec in "${@:2}"; do
    while :; do
      IFS= read -r line || { printf 'no line [%s] after the previous one in %s:\n' "$spec" "$1"; cat "$1"; return 1; }
      ! matches "$line" "$spec" || break
    done
  done <"$1" >&2
}
called() { in_order "$CALLS" "$@"; }
not_called() { local spec; for spec; do ! in_order "$CALLS" "$spec" 2>/dev/null || { echo "called: $spec" >&2; return 1; }; done; }
# planned SPEC... : the "+ " lines of a dry run's $output, each command of a pipeline as one canon line, are in order.
# shellcheck disable=SC2154 # bats sets output
planned() {
  local line seg words
  while IFS= read -r line; do
    [[ $line == "+ "* ]] || continue
    line=${line#+ } && line=${line%%  # *}
    while IFS= read -r seg; do
      mapfile -t words < <(xargs printf '%s\n' <<<"$seg")
      canon "${words[@]}"
    done <<<"${line// | /$'\n'}"
  done <<<"$output" >"$BATS_TEST_TMPDIR/plan"
  in_order "$BATS_TEST_TMPDIR/plan" "$@"
}

# world : the account's state, every file with its content, to compare before and after a run.
world() { (cd "$W" && find . | sort && grep -r '' . | sort); }

# script [VAR=VALUE...] NAME [ARG...] : runs scripts/NAME with only the settings $ENV and VAR=VALUE, the
# stand-ins and no terminal, into bats' $status, $output and $stderr; $CALLS then holds its calls only.
script() {
  local env=("${ENV[@]}")
  while [[ $1 == *=* ]]; do env+=("$1") && shift; done
  : >"$CALLS"
  run --separate-stderr env -i HOME="$HOME" PATH="$BIN" "${env[@]}" "$SCRIPTS/$1" "${@:2}" </dev/null
}

# stand_ins : a new $BIN of plain utilities and stand-ins, an empty account $W and no calls.
stand_ins() {
  local u
  BIN=$BATS_TEST_TMPDIR/bin W=$BATS_TEST_TMPDIR/world CALLS=$BATS_TEST_TMPDIR/calls
  rm -rf "$BIN" "$W" && mkdir -p "$BIN" "$W" && : >"$CALLS"
  for u in bash cat mktemp rm mkdir dirname basename awk sed grep tr sort paste head wc cp mv od tee jq; do
    ln -s "$(command -v "$u")" "$BIN/$u"
  done
  for u in aws eksctl kubectl helm java curl; do
    printf '#!%s\nW=%q CALLS=%q\nsource %q\nstand_in %s "$@"\n' "$BASH" "$W" "$CALLS" "${BASH_SOURCE[0]}" "$u" >"$BIN/$u"
    chmod +x "$BIN/$u"
  done
}
setup() { stand_ins; }

# A failed test shows what its last script printed and called.
teardown() { [[ -n ${BATS_TEST_COMPLETED:-} ]] || printf -- '--- stdout:\n%s\n--- stderr:\n%s\n--- calls:\n%s\n' "${output:-}" "${stderr:-}" "$(cat "$CALLS")"; }

stand_in() {
  local call words p c=$W/cluster ns f v
  call=$(canon "$@")
  echo "$call" >>"$CALLS"
  read -ra words <<<"$call"
  read -ra p <<<"${call%% -*}"
  opt() { local w; for w in "${words[@]}"; do [[ $w != "$1" ]] || return 0; [[ $w != "$1="* ]] || { echo "${w#*=}"; return 0; }; done; false; }
  err() { echo "$2" >&2; exit "$1"; }
  ns=$(opt --namespace) || ns=default
  [[ ! -d $c ]] || mkdir -p "$c/ns/default" "$c/release" "$c/applied"
  if [[ -f $W/fail-once ]] && matches "$call" "$(cat "$W/fail-once")"; then rm "$W/fail-once"; err 1 interrupted; fi
  [[ ${p[0]} != kubectl && ${p[0]} != helm || ${p[*]} == "kubectl config current-context" || $(cat "$c/status" 2>/dev/null) == ACTIVE ]] ||
    err 1 "Unable to connect to the server: no such host"
  case "${p[*]}" in
    "kubectl config current-context") echo fake-context ;;
    "aws eks describe-cluster") [[ -f $c/status ]] || err 254 "An error occurred (ResourceNotFoundException): No cluster found for name: $(opt --name)."
      cat "$c/status" ;;
    "aws eks wait cluster-active") echo ACTIVE >"$c/status" ;;
    "aws eks update-kubeconfig" | "kubectl rollout "* | java*) ;;
    "aws logs delete-log-group") [[ $(cat "$W/log-group" 2>/dev/null) == "$(opt --log-group-name)" ]] ||
      err 254 "An error occurred (ResourceNotFoundException): The specified log group does not exist."; rm "$W/log-group" ;;
    "eksctl create cluster") [[ ! -e $c ]] || err 1 "Error: cluster already exists"; mkdir -p "$c" && echo ACTIVE >"$c/status"
      awk '/^metadata:/ { m = 1 } m && /^  name:/ { print "/aws/eks/" $2 "/cluster"; exit }' "$(opt -f)" >"$W/log-group"
      ! grep -q '^  - name: eks-pod-identity-agent' "$(opt -f)" || : >"$c/addon.eks-pod-identity-agent"
      awk '$1 == "serviceAccountName:" { print $2 }' "$(opt -f)" | while read -r v; do : >"$c/pia.$v"; done ;;
    "eksctl create addon") [[ ! -e $c/addon.$(opt --name) ]] || err 1 "Error: addon $(opt --name) already exists"; : >"$c/addon.$(opt --name)" ;;
    "eksctl create podidentityassociation") awk '$1 == "serviceAccountName:" { print $2 }' "$(opt -f)" | while read -r v; do : >"$c/pia.$v"; done ;;
    "aws eks describe-addon") [[ -f $c/addon.$(opt --addon-name) ]] ||
      err 254 "An error occurred (ResourceNotFoundException) when calling the DescribeAddon operation: No addon: $(opt --addon-name) found in cluster: $(opt --cluster-name)" ;;
    "aws eks list-pod-identity-associations") (cd "$c" && for f in pia.*; do [[ ! -e $f ]] || printf '%s\t' "${f#pia.}"; done; echo) ;;
    "aws sts get-caller-identity") echo "$ACCOUNT" ;;
    "aws dynamodb "* | "aws sns "* | "aws sqs "* | "aws s3api "* | "aws s3 "*) events_api ;;
    "eksctl delete cluster") [[ -e $c ]] || err 1 "Error: ResourceNotFoundException: No cluster found"; rm -rf "$c" ;;
    "helm upgrade "*) [[ -f $c/release/${p[2]} ]] || opt --install || err 1 "Error: UPGRADE FAILED: \"${p[2]}\" has no deployed releases"
      ! opt --create-namespace || mkdir -p "$c/ns/$ns"
      [[ -d $c/ns/$ns ]] || err 1 "Error: create: failed to create: namespaces \"$ns\" not found"
      if [[ ${p[2]} == dapr && ! -f $c/release/dapr ]]; then # the CRDs, the injector, the scheduler's volumes
        : >"$c/crd.dapr" && echo 1 >"$c/injector" && mkdir -p "$W/ebs" && for v in 0 1 2; do echo "pv-$v" >"$c/ns/$ns/pvc.$v" && : >"$W/ebs/pv-$v"; done
      elif [[ ${p[2]} == dapr && $(cat "$c/release/dapr") != "$call" ]]; then echo $(($(cat "$c/injector") + 1)) >"$c/injector"; fi
      echo "$call" >"$c/release/${p[2]}" ;;
    "helm uninstall "*) [[ -f $c/release/${p[2]} ]] || opt --ignore-not-found || err 1 "Error: uninstall: Release not loaded: ${p[2]}: release: not found"
      rm -f "$c/release/${p[2]}" && [[ ${p[2]} != dapr ]] || rm -f "$c/injector" ;;
    "kubectl get deployment dapr-sidecar-injector") [[ -f $c/injector ]] || err 1 "Error from server (NotFound)"; cat "$c/injector" ;;
    "kubectl get crd datadogagents.datadoghq.com") [[ -f $c/release/datadog-operator ]] || err 1 "Error from server (NotFound)" ;;
    "kubectl delete crd") [[ $(opt --selector) != app.kubernetes.io/part-of=dapr ]] || rm -f "$c/crd.dapr" ;;
    "kubectl get storageclass gp2") [[ ! -f $c/gp2-default ]] || echo true ;;
    "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false") rm -f "$c/gp2-default" ;;
    "kubectl get namespace "*) [[ -d $c/ns/${p[3]} ]] || err 1 "Error from server (NotFound): namespaces \"${p[3]}\" not found" ;;
    "kubectl delete namespace "*) [[ -d $c/ns/${p[3]} ]] || opt --ignore-not-found || err 1 "Error from server (NotFound)"; rm -rf "${c:?}/ns/${p[3]}" ;;
    "kubectl get secret "*) [[ -f $c/ns/$ns/secret.${p[3]} ]] || err 1 "Error from server (NotFound): secrets \"${p[3]}\" not found" ;;
    "kubectl delete secret "*) rm -f "$c/ns/$ns/secret.${p[3]}" ;;
    "kubectl create secret generic "*) # --dry-run=client: the manifest kubectl apply -f - reads
      if [[ $(opt --dry-run) == client ]]; then printf 'Secret %s %s ' "$ns" "${p[4]}" && cat && exit 0; fi
      [[ -d $c/ns/$ns && ! -e $c/ns/$ns/secret.${p[4]} ]] || err 1 "error: failed to create secret: no namespace $ns, or it exists"
      cat >"$c/ns/$ns/secret.${p[4]}" ;;
    "kubectl apply" | "kubectl delete") f=$(opt -f) || f=""
      if [[ $f == - ]]; then read -r _ ns v f; printf '%s' "$f" >"$c/ns/$ns/secret.$v"
      elif [[ -n $f ]]; then
        [[ $(awk '$1 == "kind:" { print $2; exit }' "$f") != DatadogAgent || -f $c/release/datadog-operator ]] || err 1 "error: no kind DatadogAgent"
        if [[ ${p[1]} == apply ]]; then cp "$f" "$c/applied/${f//\//_}"; else rm -f "$c/applied/${f//\//_}"; fi
      elif [[ ${p[1]} == apply ]] && v=$(opt --selector); then echo "${v#*=}" >"$c/app-ns" && mkdir -p "$c/ns/${v#*=}"
      elif [[ ${p[1]} == apply ]]; then [[ -f $c/app-ns ]] || err 1 "Error from server (NotFound): namespaces not found"
        cp "$(opt -k)/kustomization.yaml" "$c/ns/$(cat "$c/app-ns")/app"
      else [[ -f $c/crd.dapr ]] || err 1 "error: no kind Configuration"
        [[ ! -f $c/app-ns ]] || rm -rf "$c/ns/$(cat "$c/app-ns")" "$c/app-ns"
      fi ;;
    "kubectl get pvc") cat "$c/ns/$ns"/pvc.* 2>/dev/null ;;
    "kubectl delete pvc") ! opt --all || for f in "$c/ns/$ns"/pvc.*; do [[ ! -f $f ]] || rm -f "$W/ebs/$(cat "$f")" "$f"; done ;;
    "kubectl wait "*) case "$(opt --for) ${p[2]}" in
        "create daemonset/"*) grep -qs '^kind: DatadogAgent' "$c"/applied/* ;;
        "delete pv/"*) [[ ! -e $W/ebs/${p[2]#pv/} ]] ;;
        "delete namespace/"*) [[ ! -d $c/ns/${p[2]#namespace/} ]] ;;
        *) false ;;
      esac || err 1 "error: timed out waiting for the condition on ${p[2]}" ;;
    curl*) datadog_api ;;
    *) err 97 "stand-in: no answer for: $call" ;;
  esac
  exit 0
}

# The AWS services of the greetings' events, for the one account: a DynamoDB table, SNS topics with their SQS
# subscriptions, SQS queues, S3 buckets (one of another account has another owner), with the CLI's exit codes
# and error messages.
events_api() {
  local a=$W/aws name
  mkdir -p "$a/dynamodb" "$a/sns" "$a/sqs" "$a/s3"
  case "${p[1]} ${p[2]}" in
    "dynamodb describe-table" | "dynamodb delete-table") name=$a/dynamodb/$(opt --table-name) && [[ -f $name ]] ||
      err 254 "An error occurred (ResourceNotFoundException) when calling the ${p[2]} operation: Requested resource not found: Table: $(opt --table-name) not found"
      if [[ ${p[2]} == delete-table ]]; then rm "$name"; else cat "$name"; fi ;;
    "dynamodb create-table") echo "$call" >"$a/dynamodb/$(opt --table-name)" ;;
    "dynamodb wait") [[ ${p[3]} == table-exists && -f $a/dynamodb/$(opt --table-name) || ${p[3]} == table-not-exists && ! -e $a/dynamodb/$(opt --table-name) ]] ||
      err 255 "Waiter ${p[3]} failed: Max attempts exceeded" ;;
    "sns create-topic") opt --tags >"$a/sns/$(opt --name)" && echo "arn:aws:sns:$(opt --region):$ACCOUNT:$(opt --name)" ;;
    "sns subscribe") name=$(opt --topic-arn) && name=${name##*:} && [[ -f $a/sns/$name ]] ||
      err 254 "An error occurred (NotFound) when calling the Subscribe operation: Topic does not exist"
      v=$(opt --notification-endpoint) && opt --protocol >"$a/sns/$name.sub.${v##*:}" && echo "arn:aws:sns:$(opt --region):$ACCOUNT:$name:${v##*:}" ;;
    "sns delete-topic") name=$(opt --topic-arn) && rm -f "$a/sns/${name##*:}" "$a/sns/${name##*:}".sub.* ;;
    "sqs create-queue") mkdir -p "$a/sqs/$(opt --queue-name)" && opt --tags >"$a/sqs/$(opt --queue-name)/tags"
      echo "https://sqs.$(opt --region).amazonaws.com/$ACCOUNT/$(opt --queue-name)" ;;
    "sqs set-queue-attributes" | "sqs delete-queue") name=$(opt --queue-url) && name=${name##*/} && [[ -d $a/sqs/$name ]] ||
      err 254 "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the ${p[2]} operation: The specified queue does not exist."
      if [[ ${p[2]} == delete-queue ]]; then rm -r "${a:?}/sqs/$name"; else opt --attributes >"$a/sqs/$name/attributes"; fi ;;
    "s3api head-bucket" | "s3api put-bucket-tagging" | "s3api delete-bucket") name=$a/s3/$(opt --bucket)
      [[ -d $name ]] || err 254 "An error occurred (404) when calling the HeadBucket operation: Not Found"
      [[ $(cat "$name/owner") == "$(opt --expected-bucket-owner)" ]] || err 254 "An error occurred (403) when calling the HeadBucket operation: Forbidden"
      case ${p[2]} in
        put-bucket-tagging) opt --tagging >"$name/tagging" ;;
        delete-bucket) [[ -z $(ls -A "$name/objects" 2>/dev/null) ]] ||
          err 254 "An error occurred (BucketNotEmpty) when calling the DeleteBucket operation: The bucket you tried to delete is not empty"
          rm -r "$name" ;;
      esac ;;
    "s3api create-bucket") mkdir -p "$a/s3/$(opt --bucket)" && echo "$ACCOUNT" >"$a/s3/$(opt --bucket)/owner" ;;
    "s3 rm") name=${p[3]#s3://} && opt --recursive && rm -rf "${a:?}/s3/${name%%/*}/objects" ;;
    *) err 97 "stand-in: no answer for: $call" ;;
  esac
}

# Datadog's API v1 for the dashboards and monitors of one account, kept as $W/datadog/{dashboard,monitor}/ID
# (the body sent, with its id). It wants both keys as headers on stdin (-H @-), else answers 403, as it
# does when $W/datadog/refuse exists; an HTTP error exits 22 only with --fail-with-body, as curl does.
datadog_api() {
  local d=$W/datadog path id n
  http_error() { echo "{\"errors\":[\"$1\"]}" && ! opt --fail-with-body || exit 22; exit 0; }
  mkdir -p "$d/dashboard" "$d/monitor"
  [[ $(cat) == "DD-API-KEY: $DATADOG_API_KEY"$'\n'"DD-APPLICATION-KEY: $DATADOG_APP_KEY" && " $call " == *" -H=@- "* &&
    ! -e $d/refuse ]] || http_error Forbidden
  path=${p[1]#https://api.datadoghq.com/api/v1/}
  shopt -s nullglob
  case "$(opt -X || echo GET) $path" in
    "GET dashboard") cat "$d"/dashboard/* /dev/null | jq -cn '{dashboards: [inputs | {id, title}]}' ;;
    "GET monitor?monitor_tags="*) cat "$d"/monitor/* /dev/null | jq -cn --arg t "${path#*=}" '[inputs | select(.tags | index($t))]' ;;
    "POST dashboard" | "POST monitor") n=("$d/$path"/*) && id=$((${#n[@]} + 1))
      [[ $path == monitor ]] || id="abc-de$id-fgh"
      jq -c --arg id "$id" '. + {id: ($id | tonumber? // .)}' "$(opt --data-binary | sed 's/^@//')" | tee "$d/$path/$id" ;;
    "PUT dashboard/"* | "PUT monitor/"*) [[ -f $d/$path ]] || http_error "Not found"
      jq -c --slurpfile old "$d/$path" '. + {id: $old[0].id}' "$(opt --data-binary | sed 's/^@//')" >"$d/new" && mv "$d/new" "$d/$path" && cat "$d/$path" ;;
    *) http_error "no answer for $call" ;;
  esac
}
