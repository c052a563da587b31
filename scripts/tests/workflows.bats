#!/usr/bin/env bats
# .github/: every action pinned to a commit with its release in a comment, least privilege, CI running the
# README's test command, images built by the documented script, Dependabot on both Go modules too.
# (scripts/lint.sh also runs actionlint on the workflows.)
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"

WF=$REPO/.github/workflows

@test "every action is pinned to a full commit SHA, its release in a comment" {
  run grep -hE '^[[:space:]]*(-[[:space:]]+)?uses:' "$WF"/*.yml
  [[ $status == 0 && $(grep -cvE 'uses:[[:space:]]+[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}[[:space:]]+#[[:space:]]v[0-9]+\.[0-9]+\.[0-9]+$' <<<"$output") == 0 ]]
}

@test "no permission by default, packages: write in images.yml only, and no checkout keeps the token" {
  local wf want
  for wf in "$WF"/*.yml; do
    want=""
    [[ ${wf##*/} != images.yml ]] || want="      packages: write"
    grep -qxF 'permissions: {}' "$wf"
    [[ $(grep -E ':[[:space:]]*write' "$wf") == "$want" ]]
    [[ $(grep -c 'uses: actions/checkout@' "$wf") == $(grep -c 'persist-credentials: false' "$wf") ]]
  done
}

@test "CI runs the README's test command on pushes and pull requests; images.yml, on a tag, the documented script" {
  local ci images
  ci=$(cat "$WF/ci.yml") images=$(cat "$WF/images.yml")
  [[ $ci == *"run: scripts/test.sh"* && $ci == *"pull_request:"* && $ci == *'java-version: "25"'* ]]
  [[ $images == *'tags: ["v*"]'* && $images == *"  scripts/build-images.sh"$'\n'* && $images == *--password-stdin* && $images != *-Djib.to.auth* ]]
}

@test "Dependabot watches Maven, the actions and both Go modules" {
  local want
  for want in "maven /" "github-actions /" "gomod /scripts/daprd" "gomod /kubernetes/tests"; do
    [[ $want != gomod* || -f $REPO${want#* }/go.mod ]]
    grep -A1 -E "package-ecosystem: ${want% *}\$" "$REPO/.github/dependabot.yml" | grep -qE "directory: ${want#* }\$"
  done
}
