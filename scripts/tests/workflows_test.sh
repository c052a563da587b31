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

test_every_workflow_starts_with_no_permissions() {
  local wf
  for wf in "$WORKFLOWS"/*.yml; do
    grep -qxF 'permissions: {}' "$wf" || fail "$(basename "$wf") does not set 'permissions: {}' at the top"
  done
}

test_only_the_image_job_can_write_packages() {
  local wf
  for wf in "$WORKFLOWS"/*.yml; do
    if grep -q 'packages: write' "$wf"; then
      assert_eq images.yml "$(basename "$wf")" "workflow with packages: write"
    fi
    if grep -qE ':[[:space:]]*write' "$wf"; then
      assert_eq "      packages: write" "$(grep -E ':[[:space:]]*write' "$wf")" "write permissions in $(basename "$wf")"
    fi
  done
}

test_checkout_never_keeps_the_token() {
  local wf
  for wf in "$WORKFLOWS"/*.yml; do
    assert_eq "$(grep -c 'uses: actions/checkout@' "$wf")" "$(grep -c 'persist-credentials: false' "$wf")" \
      "checkouts with persist-credentials: false in $(basename "$wf")"
  done
}

test_ci_runs_the_readme_test_command_on_push_and_pull_request() {
  local ci="$WORKFLOWS/ci.yml"
  assert_contains "$(cat "$ci")" "run: scripts/test.sh"
  assert_contains "$(cat "$ci")" "pull_request:"
  assert_contains "$(cat "$ci")" "java-version: \"17\""
  assert_contains "$(cat "$ci")" "distribution: temurin"
}

test_images_are_built_by_the_documented_script_on_version_tags() {
  local wf="$WORKFLOWS/images.yml"
  assert_contains "$(cat "$wf")" 'tags: ["v*"]'
  assert_contains "$(cat "$wf")" "scripts/build-images.sh"
  assert_contains "$(cat "$wf")" "--password-stdin"
  assert_not_contains "$(cat "$wf")" "-Djib.to.auth" "images.yml (credentials on a command line)"
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
