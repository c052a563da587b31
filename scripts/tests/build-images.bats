#!/usr/bin/env bats
# scripts/build-images.sh: the one documented command that builds and pushes both images with Jib, once
# its inputs are checked.
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"

ENV=(IMAGE_REGISTRY=ghcr.io/me IMAGE_TAG=1.2.3)

@test "the dry run prints the Jib build and push of both services" {
  script build-images.sh --dry-run
  [[ $status == 0 && ! -s $CALLS ]]
  planned "./mvnw -B -pl comms-service,greeter-service -am package jib:build -DskipTests -Dimage.registry=ghcr.io/me -Dimage.tag=1.2.3"
}

@test "refuses missing or bad inputs before Maven" {
  local setting error
  while read -r setting error; do
    script "$setting" build-images.sh --dry-run
    [[ $status != 0 && $stderr == *"error: $error"* && $output != *mvnw* ]]
  done <<'EOF'
IMAGE_REGISTRY= IMAGE_REGISTRY is not set
IMAGE_TAG= IMAGE_TAG is not set
IMAGE_REGISTRY=https://ghcr.io/me IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme
IMAGE_REGISTRY=ghcr.io/MyOrg IMAGE_REGISTRY must be a lowercase registry/namespace without a scheme
IMAGE_TAG=1.0- IMAGE_TAG must be 1-63 letters
EOF
}
