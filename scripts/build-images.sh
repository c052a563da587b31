#!/usr/bin/env bash
# Builds the comms and greeter images for linux/arm64 and linux/amd64 with Jib and pushes them:
# no Docker engine needed, only a JDK and push credentials for the registry.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/build-images.sh [--dry-run] [-h|--help]

Builds and pushes $IMAGE_REGISTRY/{comms,greeter}-service:$IMAGE_TAG for linux/arm64 and amd64:
  ./mvnw -B -pl comms-service,greeter-service -am package jib:build -DskipTests \
    -Dimage.registry=$IMAGE_REGISTRY -Dimage.tag=$IMAGE_TAG
Takes 2-4 minutes (the first run also downloads Maven and the dependencies).

Required environment:
  IMAGE_REGISTRY  lowercase, no scheme: ghcr.io/you, or 123456789012.dkr.ecr.us-west-2.amazonaws.com
                  (create the two ECR repositories first)
  IMAGE_TAG       e.g. 0.1.0, new for each build (nodes cache images by tag); 1-63 letters, digits,
                  _ . -, starting and ending with a letter or digit (it is also a label value)

Jib pushes with the credentials of your Docker config: docker login to the registry first.

Options:
  --dry-run   print the command without running it
  -h, --help  show this help
EOF
}

parse_dry_run_args "$@"
need_tools java
need_env IMAGE_REGISTRY "registry and namespace to push to, e.g. ghcr.io/you"
need_env IMAGE_TAG "the image tag, e.g. 0.1.0"
# Registries reject upper case; a scheme would become part of the image name.
need_image_env

cd "$REPO_ROOT"
run ./mvnw -B -pl comms-service,greeter-service -am package jib:build -DskipTests \
  "-Dimage.registry=$IMAGE_REGISTRY" "-Dimage.tag=$IMAGE_TAG"
is_dry_run || log "pushed; deploy them with: IMAGE_REGISTRY=$IMAGE_REGISTRY IMAGE_TAG=$IMAGE_TAG scripts/deploy.sh"
