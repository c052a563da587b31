#!/usr/bin/env bash
# scripts/deploy.sh: fails fast on missing tools or inputs (scripts/install.sh's included); --dry-run
# plans every step calling no tool; for real, against the fake cloud of testlib.sh (stubs of aws,
# eksctl, kubectl and helm), it makes what is EKS's and Datadog's, then hands over to scripts/install.sh
# (install_test.sh tests that part); a second run changes nothing, and the API key is never printed
# nor on a command line. With DATADOG_APP_KEY, a last step creates Datadog's dashboard and monitors
# (against a curl stand-in), then updates them; without it, the step is skipped.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(aws eksctl kubectl helm)
FAKE_KEY="0123456789abcdef-not-a-real-key-$$"
INPUTS=(DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3)

FAKE_APP_KEY="fedcba9876543210-not-a-real-app-key-$$"
MONITORS=("$REPO_ROOT"/datadog/monitors/*.json)
API=https://api.datadoghq.com/api/v1

# deploy [VAR=VALUE...] : a real run against fake_cloud with valid inputs; $CALLS then holds its calls only.
deploy() { : >"$CALLS"; capture env "${INPUTS[@]}" "$@" "$SCRIPTS/deploy.sh"; }

# fake_datadog : after fake_cloud, a stand-in of curl that answers as Datadog's API v1 for the dashboards
# and monitors of one account, kept as $WORLD/datadog/{dashboard,monitor}/ID (the body sent, with its id).
# It wants both keys as headers on stdin (-H @-); it answers 403 otherwise, or when $WORLD/datadog/refuse exists.
fake_datadog() {
  sandbox_path "${TOOLS[@]}" curl
  ln -sf "$(command -v jq)" "$TEST_TMP/bin/jq"
  mkdir -p "$WORLD/datadog/dashboard" "$WORLD/datadog/monitor"
  cat >"$TEST_TMP/stub-curl.sh" <<'EOF'
D="$TEST_TMP/world/datadog" method=GET body="" prev="" url="${*: -1}"
answer() { printf '%s\n' "$2"; exit "$1"; } # as curl --fail-with-body: the body, and 22 for an HTTP error
for a in "$@"; do
  case "$prev" in -X) method=$a ;; --data-binary) body=${a#@} ;; esac
  prev=$a
done
[[ "$(cat)" == "DD-API-KEY: $DATADOG_API_KEY"$'\n'"DD-APPLICATION-KEY: $DATADOG_APP_KEY" && " $* " == *" -H @- "* &&
  ! -e "$D/refuse" ]] || answer 22 '{"errors":["Forbidden"]}'
path=${url#https://api.datadoghq.com/api/v1/}
shopt -s nullglob
case "$method $path" in
  "GET dashboard") cat "$D"/dashboard/* /dev/null | jq -cn '{dashboards: [inputs | {id, title}]}' ;;
  "GET monitor?monitor_tags="*) cat "$D"/monitor/* /dev/null | jq -cn --arg t "${path#*=}" '[inputs | select(.tags | index($t))]' ;;
  "POST dashboard" | "POST monitor") n=("$D/$path"/*) && id=$((${#n[@]} + 1))
    [[ "$path" == monitor ]] || id="abc-de$id-fgh"
    jq -c --arg id "$id" '. + {id: ($id | tonumber? // .)}' "$body" | tee "$D/$path/$id" ;;
  "PUT dashboard/"* | "PUT monitor/"*) [[ -f "$D/$path" ]] || answer 22 '{"errors":["Not found"]}'
    jq -c --slurpfile old "$D/$path" '. + {id: $old[0].id}' "$body" >"$D/$path.new" && mv "$D/$path.new" "$D/$path" && cat "$D/$path" ;;
  *) answer 22 "{\"errors\":[\"fake Datadog: no answer for $method $url\"]}" ;;
esac
exit 0
EOF
}
# plan : the dry run, with stubs of every tool.
plan() { sandbox_path "${TOOLS[@]}"; capture env "${INPUTS[@]}" "$SCRIPTS/deploy.sh" --dry-run; }

test_help_and_unknown_argument() { check_cli deploy.sh "[--dry-run] [-h|--help]" "${TOOLS[@]}"; }

test_dry_run_plans_every_step_then_install_sh_calling_no_tool_and_masking_the_key() {
  plan
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  # The steps a real run may skip are planned too, each with the secret masked; install.sh's last.
  assert_in_order "$OUT" "+ eksctl create cluster " "+ kubectl annotate storageclass gp2 " \
    "+ printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret" "+ kubectl apply -f datadog/datadog-agent.yaml" \
    "==> [6/6] " "+ helm upgrade --install dapr dapr " "kubectl create secret generic dapr-api-token " \
    "+ kubectl apply -k " "+ kubectl rollout status deployment/greeter "
  assert_eq 6 "$(grep -cE '^==> \[[1-6]/6\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
  assert_eq 5 "$(grep -cE '^==> \[[1-5]/5\] ' <<<"$OUT")" "scripts/install.sh's step headers"
  assert_contains "$OUT" 'tags.datadoghq.com/version: "1.2.3"' "the overlay of the pushed images"
}

test_a_first_run_installs_everything_in_order_and_a_second_changes_nothing() {
  local value ns before
  fake_cloud
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "aws eks describe-cluster --name " "eksctl create cluster -f eksctl/cluster.yaml" "aws eks update-kubeconfig --name " \
    "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "helm upgrade --install datadog-operator datadog-operator --repo https://helm.datadoghq.com --version $DATADOG_OPERATOR_CHART_VERSION " \
    "kubectl create secret generic datadog-secret " \
    "kubectl apply -f datadog/datadog-agent.yaml" "kubectl wait --for=create daemonset/" "kubectl rollout status daemonset/" \
    "helm upgrade --install dapr dapr " "helm upgrade --install dapr-dashboard " "kubectl apply -k " \
    "kubectl rollout status deployment/comms -n dapr-services" "kubectl rollout status deployment/greeter -n dapr-services"
  for value in "aws eks wait" "rollout restart" "annotate"; do
    assert_not_contains "$(calls)" "$value" "calls on an empty account"
  done
  assert_contains "$ERR" "Datadog APM > Services"

  # The key reaches the cluster, never the output or a command line.
  ns=$(bash -c 'source "$1/lib.sh"; yaml_metadata "$2" namespace' _ "$SCRIPTS" "$REPO_ROOT/datadog/datadog-agent.yaml")
  assert_eq "$FAKE_KEY" "$(cat "$WORLD/cluster/ns/$ns/secret.datadog-secret")" "datadog-secret in the Agent's namespace $ns"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_KEY" "output and command lines"

  before=$(world)
  deploy
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cloud after the second run"
  for value in "eksctl" "create secret generic dapr-api-token" "rollout restart" "annotate" "delete"; do
    assert_not_contains "$(calls)" "$value" "calls of the second run"
  done
}

test_an_older_cluster_gets_gp2_unmarked_once() {
  fake_cloud
  deploy
  assert_status 0 "$RC"
  echo true >"$WORLD/cluster/gp2-default" # as on clusters made before Kubernetes 1.30
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "kubectl apply -f kubernetes/storage/gp3-storageclass.yaml" \
    "kubectl annotate storageclass gp2 storageclass.kubernetes.io/is-default-class=false --overwrite" "helm upgrade --install dapr "
  assert_not_contains "$(calls)" "eksctl" "calls with the cluster there"
  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" annotate "calls of the next run"
}

test_a_failure_in_install_sh_names_both_steps_and_the_cost_and_a_rerun_finishes() {
  fake_cloud
  echo "helm upgrade --install dapr " >"$WORLD/fail-once"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "scripts/install.sh: stopped at step [1/5] Dapr control plane"
  assert_contains "$ERR" "scripts/deploy.sh: stopped at step [6/6] "
  assert_contains "$ERR" "scripts/delete-all.sh removes them all"
  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" "eksctl" "calls of the re-run"
  assert_contains "$(calls)" "kubectl rollout status deployment/greeter "
}

test_waits_for_a_cluster_being_created_and_stops_before_one_being_deleted() {
  fake_cloud
  mkdir -p "$WORLD/cluster"
  echo CREATING >"$WORLD/cluster/status"
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "aws eks describe-cluster " "aws eks wait cluster-active --name " \
    "aws eks update-kubeconfig " "helm upgrade --install dapr "
  assert_not_contains "$(calls)" "eksctl" "calls"
  echo DELETING >"$WORLD/cluster/status"
  deploy
  assert_failed "$RC"
  assert_contains "$ERR" "is DELETING; wait for it"
  assert_eq "" "$(grep -v '^aws ' "$CALLS" || true)" "calls other than aws"
}

test_without_an_app_key_the_datadog_step_is_skipped_in_one_line() {
  fake_cloud
  deploy
  assert_status 0 "$RC"
  assert_eq 1 "$(grep -c 'Datadog dashboard' <<<"$ERR")" "lines about the dashboard"
  assert_contains "$ERR" "==> Datadog dashboard and monitors (datadog/): skipped, as DATADOG_APP_KEY is not set"
  assert_not_contains "$(calls)" "curl" "calls"
}

test_dry_run_with_an_app_key_plans_the_datadog_calls_last_masking_both_keys() {
  local m needles
  needles=("==> [6/7] " "+ kubectl rollout status deployment/greeter " "==> [7/7] Datadog dashboard and monitors (datadog/) on datadoghq.com"
    "+ printf 'DD-API-KEY: %s\nDD-APPLICATION-KEY: %s\n' \"\$DATADOG_API_KEY\" \"\$DATADOG_APP_KEY\" | curl -sS --fail-with-body --max-time 60 -H @- -X GET $API/dashboard"
    "  # only if none has the title \"$(jq -r .title "$REPO_ROOT/datadog/dashboard.json")\"; else the same with -X PUT to /api/v1/dashboard/<its id>:"
    "-H @- -X POST -H 'Content-Type: application/json' --data-binary @datadog/dashboard.json $API/dashboard"
    "-H @- -X GET '$API/monitor?monitor_tags=managed-by:dapr-tracing-demo'")
  for m in "${MONITORS[@]}"; do needles+=("-X POST -H 'Content-Type: application/json' --data-binary @datadog/monitors/${m##*/} $API/monitor"); done
  fake_cloud
  fake_datadog
  capture env "${INPUTS[@]}" DATADOG_APP_KEY="$FAKE_APP_KEY" "$SCRIPTS/deploy.sh" --dry-run
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  assert_not_contains "$OUT$ERR" "${FAKE_APP_KEY:0:10}" "dry-run output"
  assert_in_order "$OUT" "${needles[@]}"
  assert_eq 7 "$(grep -cE '^==> \[[1-7]/7\] ' <<<"$OUT")" "step headers"
}

test_with_an_app_key_a_first_run_creates_the_dashboard_and_monitors_and_a_second_updates_them() {
  local m before
  fake_cloud
  fake_datadog
  deploy DATADOG_APP_KEY="$FAKE_APP_KEY"
  assert_status 0 "$RC"
  assert_in_order "$(calls)" "kubectl rollout status deployment/greeter " "curl -sS --fail-with-body --max-time 60 -H @- -X GET $API/dashboard" \
    "-X POST -H Content-Type: application/json --data-binary @datadog/dashboard.json $API/dashboard" \
    "-X GET $API/monitor?monitor_tags=managed-by:dapr-tracing-demo"
  assert_eq "1 ${#MONITORS[@]}" "$(find "$WORLD/datadog/dashboard" -type f | wc -l) $(find "$WORLD/datadog/monitor" -type f | wc -l)" "dashboards and monitors"
  assert_eq "$(jq -S . "$REPO_ROOT/datadog/dashboard.json")" "$(jq -S 'del(.id)' "$WORLD"/datadog/dashboard/*)" "the dashboard made"
  for m in "${MONITORS[@]}"; do
    assert_eq 1 "$(jq -c --slurpfile m "$m" 'select(del(.id) == $m[0])' "$WORLD"/datadog/monitor/* | wc -l)" "monitors made of ${m##*/}"
  done
  assert_contains "$ERR" "created dashboard abc-de1-fgh: Dapr tracing demo"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_APP_KEY" "output and command lines"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_KEY" "output and command lines"

  before=$(world)
  deploy DATADOG_APP_KEY="$FAKE_APP_KEY"
  assert_status 0 "$RC"
  assert_eq "$before" "$(world)" "the cloud and the Datadog account after the second run"
  assert_not_contains "$(calls)" "-X POST" "calls of the second run"
  assert_eq $((1 + ${#MONITORS[@]})) "$(grep -c -- '-X PUT ' "$CALLS")" "updates of the second run"
  assert_contains "$(calls)" "-X PUT -H Content-Type: application/json --data-binary @datadog/dashboard.json $API/dashboard/abc-de1-fgh"
  assert_contains "$ERR" "updated monitor 1: "
}

test_a_refused_app_key_stops_at_the_datadog_step_saying_why() {
  fake_cloud
  fake_datadog
  : >"$WORLD/datadog/refuse"
  deploy DATADOG_APP_KEY="$FAKE_APP_KEY"
  assert_failed "$RC"
  assert_contains "$ERR" "Datadog's API did not list the dashboards: {\"errors\":[\"Forbidden\"]}"
  assert_contains "$ERR" "scripts/deploy.sh: stopped at step [7/7] Datadog dashboard and monitors"
}

test_an_app_key_needs_curl_and_jq_before_any_call() {
  sandbox_path "${TOOLS[@]}"
  refuses "missing required tool(s): curl jq" env "${INPUTS[@]}" DATADOG_APP_KEY="$FAKE_APP_KEY" "$SCRIPTS/deploy.sh" --dry-run
}

test_fails_fast_naming_every_missing_tool_and_where_to_get_it() { check_missing_tools deploy.sh --dry-run; }

test_refuses_missing_or_bad_inputs_of_both_scripts_before_any_call() {
  local setting error
  sandbox_path "${TOOLS[@]}"
  refuses "DATADOG_API_KEY is not set" env -u DATADOG_API_KEY "${INPUTS[@]:1}" "$SCRIPTS/deploy.sh" --dry-run
  while read -r setting error; do
    refuses "$error" env "${INPUTS[@]}" "$setting" "$SCRIPTS/deploy.sh"
  done <<'CASES'
DATADOG_API_KEY= DATADOG_API_KEY is not set
IMAGE_REGISTRY= IMAGE_REGISTRY is not set
IMAGE_TAG= IMAGE_TAG is not set
IMAGE_REGISTRY=https://ghcr.io/me IMAGE_REGISTRY must be
IMAGE_TAG=1.0- IMAGE_TAG must be 1-63 letters
KUSTOMIZE_COMPONENTS=kubernetes/nowhere KUSTOMIZE_COMPONENTS: kubernetes/nowhere is not
CASES
}

run_tests
