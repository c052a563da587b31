#!/usr/bin/env bash
# scripts/deploy.sh: fails fast on missing tools or inputs, and its --dry-run plans every step in
# order, with the pinned versions, without calling any tool and without ever printing the API key.
# The cloud tools are stubs on a sandbox PATH, only so that the presence check passes: each stub
# records its call, and a dry run must leave no record.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
# shellcheck source=../versions.env
source "$SCRIPTS/versions.env"

TOOLS=(aws eksctl kubectl helm dapr)
FAKE_KEY="0123456789abcdef-not-a-real-key-$$"

dry_run() { # [STUB...] : runs deploy.sh --dry-run with the given stubs and valid inputs
  sandbox_path "$@"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3 \
    "$SCRIPTS/deploy.sh" --dry-run
}

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/deploy.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/deploy.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_rejects_an_unknown_argument() {
  sandbox_path "${TOOLS[@]}"
  capture "$SCRIPTS/deploy.sh" --dryrun
  assert_failed "$RC"
  assert_contains "$ERR" "unknown argument: --dryrun"
  assert_eq "" "$(calls)" "tool calls"
}

test_dry_run_never_prints_the_api_key() {
  dry_run "${TOOLS[@]}"
  assert_status 0 "$RC"
  assert_not_contains "$OUT$ERR" "$FAKE_KEY" "dry-run output"
  assert_not_contains "$OUT$ERR" "${FAKE_KEY:0:10}" "dry-run output"
  assert_contains "$OUT" "printf '%s' \"\$DATADOG_API_KEY\" | kubectl create secret generic datadog-secret"
}

test_dry_run_calls_no_tool() {
  dry_run "${TOOLS[@]}"
  assert_status 0 "$RC"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_dry_run_plans_every_step_in_order() {
  dry_run "${TOOLS[@]}"
  assert_status 0 "$RC"
  assert_in_order "$OUT" \
    "+ eksctl create cluster -f eksctl/cluster.yaml" \
    "+ aws eks update-kubeconfig --name " \
    "+ kubectl apply -f kubernetes/" \
    "+ helm upgrade --install datadog-operator datadog/datadog-operator" \
    "kubectl create secret generic datadog-secret" \
    "+ kubectl apply -f datadog/datadog-agent.yaml" \
    "+ kubectl rollout status daemonset/" \
    "+ dapr init -k --runtime-version" \
    "+ dapr status -k" \
    "+ helm repo add dapr https://dapr.github.io/helm-charts --force-update" \
    "+ helm upgrade --install dapr-dashboard dapr/dapr-dashboard " \
    "+ kubectl apply -k " \
    "kubectl create secret generic dapr-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl create secret generic app-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "+ kubectl apply -k " \
    "+ kubectl rollout status deployment/comms -n dapr-services" \
    "+ kubectl rollout status deployment/greeter -n dapr-services"
}

test_dry_run_creates_the_secret_in_the_agents_namespace() {
  local ns
  ns=$(bash -c 'source "$1/lib.sh"; yaml_metadata "$2" namespace' _ "$SCRIPTS" "$REPO_ROOT/datadog/datadog-agent.yaml")
  [[ -n "$ns" ]] || fail "datadog/datadog-agent.yaml has no metadata.namespace"
  dry_run "${TOOLS[@]}"
  assert_contains "$OUT" "kubectl create secret generic datadog-secret --namespace $ns "
  assert_contains "$OUT" "--namespace $ns --create-namespace"
}

test_dry_run_installs_the_pinned_versions() {
  dry_run "${TOOLS[@]}"
  assert_contains "$OUT" "--version $DATADOG_OPERATOR_CHART_VERSION "
  assert_contains "$OUT" "+ dapr init -k --runtime-version $DAPR_RUNTIME_VERSION --set "
  assert_contains "$OUT" "+ helm upgrade --install dapr-dashboard dapr/dapr-dashboard --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system --wait "
}

test_dry_run_installs_dapr_with_every_value_of_the_values_file() {
  # kubernetes/tests builds the sidecar from this file too: what it checks is what gets installed.
  local line init
  dry_run "${TOOLS[@]}"
  init=$(grep '^+ dapr init -k ' <<<"$OUT")
  while IFS= read -r line; do
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    assert_contains "$init" " --set $line " "dapr init"
  done <"$REPO_ROOT/kubernetes/dapr-helm-values.txt"
  assert_contains "$init" "--set dapr_sidecar_injector.sidecarDropALLCapabilities=true"
}

test_dry_run_creates_every_token_secret_the_app_reads() {
  local names name
  names=$(grep -rhoE 'dapr\.io/(api|app)-token-secret: *[a-z0-9-]+' "$REPO_ROOT/kubernetes/base" | sed 's/.*: *//'
    grep -rh -A1 'secretKeyRef:' "$REPO_ROOT/kubernetes/base" | sed -n 's/.*name: *//p')
  [[ -n "$names" ]] || fail "kubernetes/base names no token Secret"
  dry_run "${TOOLS[@]}"
  while IFS= read -r name; do
    assert_contains "$OUT" "kubectl create secret generic $name --namespace dapr-services --from-file=token=/dev/stdin"
  done < <(sort -u <<<"$names")
}

test_dry_run_points_the_app_at_the_pushed_images() {
  dry_run "${TOOLS[@]}"
  assert_contains "$OUT" "newName: registry.example.com/team/comms-service"
  assert_contains "$OUT" "newName: registry.example.com/team/greeter-service"
  assert_contains "$OUT" 'newTag: "1.2.3"'
}

test_dry_run_makes_datadogs_version_tag_follow_the_image_tag() {
  # The overlay kubernetes/README.md documents and kubernetes/tests renders: without this label
  # every release would show up in Datadog APM under the base's version.
  dry_run "${TOOLS[@]}"
  assert_in_order "$OUT" "#   labels:" "#     - pairs:" '#         tags.datadoghq.com/version: "1.2.3"' "#       includeTemplates: true"
}

test_overlay_image_names_match_the_kubernetes_base() {
  # kustomize's images: only rewrites images whose name matches; a renamed image in kubernetes/
  # would silently deploy the placeholder instead of the pushed image.
  local base_images name
  base_images=$(grep -rhoE '^[[:space:]]*(- )?image:[[:space:]]*[^[:space:]#]+' "$REPO_ROOT/kubernetes" \
    --include='*.yaml' | sed -E 's/.*image:[[:space:]]*//; s/["'\'']//g; s/[:@].*//' | sort -u)
  for name in comms-service greeter-service; do
    grep -qE "(^|/)$name\$" <<<"$base_images" ||
      fail "kubernetes/ has no image named $name (found: $(tr '\n' ' ' <<<"$base_images"))"
  done
}

test_dry_run_removes_its_temporary_overlay() {
  local dir
  dry_run "${TOOLS[@]}"
  dir=$(sed -nE 's/.*temporary overlay (.*)\/kustomization\.yaml.*/\1/p' <<<"$OUT")
  [[ -n "$dir" ]] || fail "no temporary overlay in the plan" "$OUT"
  assert_contains "$OUT" "+ kubectl apply -k $dir"
  [[ ! -e "$dir" ]] || fail "temporary overlay $dir is still there after the script ended"
}

test_dry_run_says_how_long_each_step_takes() {
  dry_run "${TOOLS[@]}"
  assert_eq 10 "$(grep -cE '^==> \[([1-9]|10)/10\] .+\(typically [^)]+\)$' <<<"$OUT")" "step headers with a typical time"
}

# fake_cluster : stubs that answer as an existing cluster with the pinned Dapr would, for a real (not
# dry) run; the Secrets deploy.sh creates are kept in $TEST_TMP/secrets/NAME, one file each.
fake_cluster() {
  sandbox_path "${TOOLS[@]}"
  mkdir -p "$TEST_TMP/secrets"
  printf 'exit 0\n' >"$TEST_TMP/stub-eksctl.sh"
  printf 'exit 0\n' >"$TEST_TMP/stub-helm.sh"
  printf 'exit 0\n' >"$TEST_TMP/stub-dapr.sh"
  cat >"$TEST_TMP/stub-aws.sh" <<'EOF'
[[ "$*" == "eks describe-cluster"* ]] && echo ACTIVE
exit 0
EOF
  cat >"$TEST_TMP/stub-kubectl.sh" <<EOF
case "\$*" in
  "get secret "*) [[ -f "\$TEST_TMP/secrets/\$3" ]]; exit ;;
  "create secret generic "*) cat >"\$TEST_TMP/secrets/\$4" ;;
  *" -f -"*) cat >/dev/null ;;
  "get deployment dapr-operator "*) echo "ghcr.io/dapr/operator:$DAPR_RUNTIME_VERSION" ;;
  "get deployment dapr-sidecar-injector "*) echo 1 ;;
esac
exit 0
EOF
}

deploy() { # a real run against fake_cluster
  : >"$CALLS"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=registry.example.com/team IMAGE_TAG=1.2.3 "$SCRIPTS/deploy.sh"
}

test_makes_the_token_secrets_once_keeps_them_and_never_shows_them() {
  local first s
  fake_cluster
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "kubectl apply -k " \
    "kubectl create secret generic dapr-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl create secret generic app-api-token --namespace dapr-services --from-file=token=/dev/stdin" \
    "kubectl apply -k "
  assert_contains "$(grep 'kubectl apply -k ' "$CALLS" | head -n1)" "--selector app.kubernetes.io/name=dapr-services" "the first apply -k"
  for s in dapr-api-token app-api-token; do
    [[ "$(cat "$TEST_TMP/secrets/$s")" =~ ^[0-9a-f]{64}$ ]] || fail "secret $s: want 64 hex digits, got [$(cat "$TEST_TMP/secrets/$s")]"
    assert_not_contains "$OUT$ERR$(calls)" "$(cat "$TEST_TMP/secrets/$s")" "output and command lines"
  done
  [[ "$(cat "$TEST_TMP/secrets/dapr-api-token")" != "$(cat "$TEST_TMP/secrets/app-api-token")" ]] || fail "both tokens are the same"
  assert_not_contains "$OUT$ERR$(calls)" "$FAKE_KEY" "output and command lines"
  first=$(cat "$TEST_TMP/secrets/dapr-api-token" "$TEST_TMP/secrets/app-api-token")

  deploy
  assert_status 0 "$RC"
  assert_not_contains "$(calls)" "create secret generic dapr-api-token" "calls of the second run"
  assert_not_contains "$(calls)" "create secret generic app-api-token" "calls of the second run"
  assert_contains "$ERR" "secret dapr-api-token exists: kept"
  assert_eq "$first" "$(cat "$TEST_TMP/secrets/dapr-api-token" "$TEST_TMP/secrets/app-api-token")" "tokens after the second run"
}

test_an_installed_dapr_is_upgraded_to_the_same_values() {
  # `dapr upgrade` resets the chart values it is not given: a re-run must pass them again.
  fake_cluster
  deploy
  assert_status 0 "$RC"
  assert_contains "$(calls)" "dapr upgrade -k --runtime-version $DAPR_RUNTIME_VERSION --set dapr_sidecar_injector.sidecarDropALLCapabilities=true"
  assert_not_contains "$(calls)" "rollout restart" "calls when neither the version nor the injector changed"
}

test_installs_the_dashboard_after_dapr_on_every_run() {
  # Dapr CLI 1.18 installs no dashboard (1.17's `dapr init -k` did): deploy.sh does, also on a re-run.
  fake_cluster
  deploy
  assert_status 0 "$RC"
  assert_in_order "$(calls)" \
    "dapr upgrade -k " \
    "dapr status -k" \
    "helm repo add dapr https://dapr.github.io/helm-charts --force-update" \
    "helm upgrade --install dapr-dashboard dapr/dapr-dashboard --version $DAPR_DASHBOARD_CHART_VERSION --namespace dapr-system --wait " \
    "kubectl apply -k "
}

test_fails_fast_when_the_api_key_is_unset() {
  sandbox_path "${TOOLS[@]}"
  capture env -u DATADOG_API_KEY IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "DATADOG_API_KEY is not set"
  assert_not_contains "$OUT" "+ " "plan"
  assert_eq "" "$(calls)" "tool calls"
}

test_fails_fast_when_the_api_key_is_empty() {
  sandbox_path "${TOOLS[@]}"
  capture env DATADOG_API_KEY= IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 "$SCRIPTS/deploy.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "DATADOG_API_KEY is not set"
  assert_eq "" "$(calls)" "tool calls"
}

test_fails_fast_naming_each_missing_tool_and_where_to_get_it() {
  local missing others t
  for missing in "${TOOLS[@]}"; do
    others=()
    for t in "${TOOLS[@]}"; do [[ "$t" == "$missing" ]] || others+=("$t"); done
    rm -rf "${TEST_TMP:?}/bin"
    dry_run "${others[@]}"
    assert_failed "$RC"
    assert_contains "$ERR" "missing required tool(s): $missing"
    assert_contains "$ERR" "  - $missing: "
    assert_contains "$ERR" "https://"
    assert_not_contains "$OUT" "+ " "plan without $missing"
  done
}

test_reports_all_missing_tools_at_once() {
  dry_run
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): aws eksctl kubectl helm dapr"
}

test_requires_the_image_registry_and_tag() {
  sandbox_path "${TOOLS[@]}"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_TAG=1.2.3 "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_REGISTRY is not set"
  capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t "$SCRIPTS/deploy.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_TAG is not set"
  assert_eq "" "$(calls)" "tool calls"
}

test_accepts_exactly_the_image_tags_that_are_also_label_values() {
  local tag
  sandbox_path "${TOOLS[@]}"
  for tag in "${GOOD_TAGS[@]}"; do
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t IMAGE_TAG="$tag" "$SCRIPTS/deploy.sh" --dry-run
    assert_status 0 "$RC"
    assert_contains "$OUT" "tags.datadoghq.com/version: \"$tag\""
  done
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY=r.example.com/t IMAGE_TAG="$tag" "$SCRIPTS/deploy.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "IMAGE_TAG must be 1-63 letters"
    assert_not_contains "$OUT" "+ " "plan for tag [$tag]"
  done
  assert_eq "" "$(calls)" "tool calls"
}

test_rejects_an_image_registry_with_a_scheme_or_upper_case() {
  sandbox_path "${TOOLS[@]}"
  for reg in https://ghcr.io/me ghcr.io/Me; do
    capture env DATADOG_API_KEY="$FAKE_KEY" IMAGE_REGISTRY="$reg" IMAGE_TAG=1 "$SCRIPTS/deploy.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "IMAGE_REGISTRY must be"
  done
}

run_tests
