#!/usr/bin/env bats
# scripts/lib.sh: what every script checks first (its arguments, its tools), and its own contracts: secrets
# never shown, printed commands that paste back, versions.env never running a command, its parsers.
# shellcheck disable=SC2016 # the code given to with_lib is single-quoted: it expands in the bash that runs it
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"

# with_lib CODE : runs CODE in a bash that sourced scripts/lib.sh, into $status, $output and $stderr.
with_lib() { run --separate-stderr bash -c 'set -euo pipefail; source "$1/lib.sh"; eval "$2"' _ "$SCRIPTS" "$1"; }

@test "every script prints its usage on --help and refuses an unknown argument before any call" {
  local s
  for s in "deploy.sh [--dry-run]" "delete-all.sh [--yes] [--dry-run]" "install.sh [--uninstall] [--dry-run]" \
    "build-images.sh [--dry-run]" "lint.sh"; do
    script "${s%% *}" --help
    [[ $status == 0 && ${output%%$'\n'*} == "Usage: scripts/${s%.sh*}.sh${s#*.sh} [-h|--help]" ]]
    script "${s%% *}" --bogus
    [[ $status != 0 && $stderr == *"error: unknown argument: --bogus"* && ! -s $CALLS ]]
  done
}

@test "every script names each tool it lacks, and where to get it, before any call" {
  local run tools t
  while IFS=: read -r run tools; do
    stand_ins && (cd "$BIN" && xargs rm <<<"$tools")
    # shellcheck disable=SC2086 # settings and arguments
    script DATADOG_API_KEY=0123456789abcdef0123456789abcdef IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 $run
    [[ $status != 0 && $stderr == *"error: missing required tool(s): $tools"$'\n'* && ! -s $CALLS ]]
    for t in $tools; do [[ $stderr == *$'\n'"  - $t: "* ]]; done
  done <<'EOF'
deploy.sh:aws eksctl kubectl helm
DATADOG_APP_KEY=k deploy.sh:curl jq
install.sh:kubectl helm
delete-all.sh --yes:aws eksctl kubectl helm
build-images.sh --dry-run:java
EOF
  [[ $stderr == *"  - java: "*https://* ]]
}

@test "a printed command pastes back as it ran" {
  with_lib 'DRY_RUN=1; run printf "%s|" "a b" "it'\''s" "{\"name\":\"Ada\"}" "" "x=\$HOME"'
  [[ $status == 0 && $(bash -c "${output#+ }") == "a b|it's|{\"name\":\"Ada\"}||x=\$HOME|" ]]
}

@test "a registered secret is masked in plans and messages" {
  with_lib 'register_secret s3cr3t; DRY_RUN=1; run echo "key=s3cr3t"; log "the s3cr3t"; info s3cr3t; warn s3cr3t; die s3cr3t'
  [[ $status != 0 && $output == "+ echo key=****" && $stderr == *"error: ****" && "$output$stderr" != *s3cr3t* ]]
}

@test "load_versions refuses a line of versions.env that is not a pin, running none of it" {
  printf 'GOOD=1.2.3\ntouch "%s/pwned"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/versions.env"
  VERSIONS_FILE=$BATS_TEST_TMPDIR/versions.env with_lib load_versions
  [[ $status != 0 && $stderr == *"line 2 is not a KEY=value pin"* && ! -e $BATS_TEST_TMPDIR/pwned ]]
}

@test "yaml_metadata reads a field of the top-level metadata only, unquoted, without its comment" {
  printf '%s\n' --- 'metadata:' '    labels:' '        name: not-this' '    name: "dapr-demo"   # the cluster' \
    "    region: 'us-west-2'" 'spec:' '  name: nor-this' >"$BATS_TEST_TMPDIR/m.yaml"
  with_lib "for f in name region namespace; do yaml_metadata $BATS_TEST_TMPDIR/m.yaml \$f; done"
  [[ $status == 0 && $output == $'dapr-demo\nus-west-2' ]]
}

@test "need_image_tag takes exactly the image tags that are also label values" {
  local tag long
  long=$(printf 'a%.0s' {1..63})
  for tag in 0.1.0 v1.0.0 latest 1 Release_2.0-rc.1 "$long"; do
    T=$tag with_lib 'need_image_tag T'
    [[ $status == 0 ]]
  done
  for tag in "" "${long}b" 1.0- 1.0. 1.0_ .1 -1 _1 "1 0" " 1" "1 " a/b a:b; do
    T=$tag with_lib 'need_image_tag T'
    [[ $status != 0 && $stderr == *"T must be 1-63 letters, digits, '_', '.' or '-', starting and ending with a letter or digit"*"got: '$tag'"* ]]
  done
}
