#!/usr/bin/env bash
# .github/: every action pinned to a full commit SHA with its release in a comment, least-privilege
# permissions, CI running the README's test command, images built by the documented script, and
# Dependabot watching every dependency manifest. (scripts/lint.sh also runs actionlint on them.)
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

WORKFLOWS="$REPO_ROOT/.github/workflows"

test_every_action_is_pinned_to_a_commit_sha_with_its_version() {
  local line n=0
  while IFS= read -r line; do
    n=$((n + 1))
    [[ "$line" =~ uses:[[:space:]]+[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}[[:space:]]+#[[:space:]]v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
      fail "not pinned as owner/repo@<40-hex sha> # vX.Y.Z: $line"
  done < <(grep -hE '^[[:space:]]*(-[[:space:]]+)?uses:' "$WORKFLOWS"/*.yml)
  ((n > 0)) || fail "no action found in $WORKFLOWS"
}

# No permission by default, packages: write in the image job only, and no checkout keeps the token.
test_every_workflow_has_least_privilege() {
  local wf name want
  for wf in "$WORKFLOWS"/*.yml; do
    name=$(basename "$wf") want=""
    [[ "$name" != images.yml ]] || want="      packages: write"
    grep -qxF 'permissions: {}' "$wf" || fail "$name does not set 'permissions: {}' at the top"
    assert_eq "$want" "$(grep -E ':[[:space:]]*write' "$wf" || true)" "write permissions in $name"
    assert_eq "$(grep -c 'uses: actions/checkout@' "$wf")" "$(grep -c 'persist-credentials: false' "$wf")" \
      "checkouts with persist-credentials: false in $name"
  done
}

test_ci_runs_the_readme_test_command_and_images_the_documented_script() {
  local file text
  while IFS='|' read -r file text; do
    assert_contains "$(cat "$WORKFLOWS/$file")" "$text" "$file"
  done <<'LIST'
ci.yml|run: scripts/test.sh
ci.yml|pull_request:
ci.yml|java-version: "25"
ci.yml|distribution: temurin
images.yml|tags: ["v*"]
images.yml|scripts/build-images.sh
images.yml|--password-stdin
LIST
  assert_not_contains "$(cat "$WORKFLOWS/images.yml")" "-Djib.to.auth" "images.yml (credentials on a command line)"
}

test_dependabot_watches_maven_actions_and_both_go_modules() {
  local cfg="$REPO_ROOT/.github/dependabot.yml" eco dir
  while read -r eco dir; do
    [[ -f "$REPO_ROOT$dir/${eco/gomod/go.mod}" || "$eco" != gomod ]] || fail "no go.mod in $dir"
    grep -A1 -E "package-ecosystem: $eco\$" "$cfg" | grep -qE "directory: $dir\$" ||
      fail "dependabot.yml has no $eco entry for $dir"
  done <<'LIST'
maven /
github-actions /
gomod /scripts/daprd
gomod /kubernetes/tests
LIST
}

run_tests
