#!/usr/bin/env bash
# scripts/build-images.sh: the one documented command that builds and pushes both images with Jib;
# it checks its inputs before running Maven.
# shellcheck source=testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"

test_help_and_unknown_argument() { check_cli build-images.sh "[--dry-run] [-h|--help]" java; }

test_dry_run_prints_the_jib_build_of_both_services_for_each_good_tag() {
  local tag
  sandbox_path java
  for tag in "${GOOD_TAGS[@]}"; do
    capture env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG="$tag" "$SCRIPTS/build-images.sh" --dry-run
    assert_status 0 "$RC"
    assert_contains "$OUT" "+ ./mvnw -B -pl comms-service,greeter-service -am package jib:build -DskipTests -Dimage.registry=ghcr.io/me -Dimage.tag=$tag"
  done
  assert_eq "" "$(calls)" "tool calls during the dry run"
}

test_refuses_missing_or_bad_inputs_before_maven() {
  local tag reg
  sandbox_path
  refuses "missing required tool(s): java" env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG=1 "$SCRIPTS/build-images.sh" --dry-run
  sandbox_path java
  refuses "IMAGE_REGISTRY is not set" env IMAGE_TAG=0.1.0 "$SCRIPTS/build-images.sh" --dry-run
  refuses "IMAGE_TAG is not set" env IMAGE_REGISTRY=ghcr.io/me "$SCRIPTS/build-images.sh" --dry-run
  # Registries reject a scheme and upper case: the push would fail after the whole build.
  for reg in https://ghcr.io/me ghcr.io/MyOrg; do
    refuses "IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme" \
      env IMAGE_REGISTRY="$reg" IMAGE_TAG=1 "$SCRIPTS/build-images.sh" --dry-run
  done
  for tag in "${BAD_TAGS[@]:1}"; do # the first, empty, is "not set"
    refuses "IMAGE_TAG must be 1-63 letters" env IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG="$tag" "$SCRIPTS/build-images.sh" --dry-run
  done
}

run_tests
