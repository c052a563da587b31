#!/usr/bin/env bash
# scripts/build-images.sh: the one documented command that builds and pushes both images with Jib;
# it checks its inputs before running Maven.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

test_help_needs_no_tool_and_prints_usage() {
  sandbox_path
  capture "$SCRIPTS/build-images.sh" --help
  assert_status 0 "$RC"
  assert_eq "Usage: scripts/build-images.sh [--dry-run] [-h|--help]" "$(head -n1 <<<"$OUT")" "first line"
}

test_dry_run_prints_the_jib_build_of_both_services() {
  sandbox_path java
  capture env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG=0.1.0 "$SCRIPTS/build-images.sh" --dry-run
  assert_status 0 "$RC"
  assert_contains "$OUT" "+ ./mvnw -B -pl comms-service,greeter-service -am package jib:build -DskipTests -Dimage.registry=ghcr.io/me -Dimage.tag=0.1.0"
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_requires_the_registry_and_the_tag() {
  sandbox_path java
  capture env IMAGE_TAG=0.1.0 "$SCRIPTS/build-images.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_REGISTRY is not set"
  capture env IMAGE_REGISTRY=ghcr.io/me "$SCRIPTS/build-images.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "IMAGE_TAG is not set"
}

test_rejects_registries_that_would_fail_the_push() {
  sandbox_path java
  capture env IMAGE_REGISTRY=https://ghcr.io/me IMAGE_TAG=1 "$SCRIPTS/build-images.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "takes no scheme"
  capture env IMAGE_REGISTRY=ghcr.io/MyOrg IMAGE_TAG=1 "$SCRIPTS/build-images.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "must be lowercase"
}

test_accepts_exactly_the_tags_that_are_also_label_values() {
  local tag
  sandbox_path java
  for tag in "${GOOD_TAGS[@]}"; do
    capture env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG="$tag" "$SCRIPTS/build-images.sh" --dry-run
    assert_status 0 "$RC"
    assert_contains "$OUT" "-Dimage.tag=$tag"
  done
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    capture env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG="$tag" "$SCRIPTS/build-images.sh" --dry-run
    assert_failed "$RC"
    assert_contains "$ERR" "IMAGE_TAG must be 1-63 letters"
    assert_not_contains "$OUT" "mvnw" "plan for tag [$tag]"
  done
}

test_fails_fast_without_java() {
  sandbox_path
  capture env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG=1 "$SCRIPTS/build-images.sh" --dry-run
  assert_failed "$RC"
  assert_contains "$ERR" "missing required tool(s): java"
}

run_tests
