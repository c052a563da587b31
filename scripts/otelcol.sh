#!/usr/bin/env bash
# Makes sure an OpenTelemetry Collector (otelcol) with exactly the components of
# kubernetes/components/otel-collector is built, and prints its path on stdout, alone.
#
# The OpenTelemetry Collector Builder at COLLECTOR_VERSION (scripts/versions.env) builds it from the
# Go module proxy with the manifest scripts/otelcol/builder-config.yaml, into the tools cache, under
# the version and a checksum of the manifest: a changed manifest builds anew, an unchanged one is reused.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_versions
need_version COLLECTOR_VERSION

usage() {
  cat <<'USAGE'
Usage: scripts/otelcol.sh

Prints the path of the otelcol binary built from scripts/otelcol/builder-config.yaml at
COLLECTOR_VERSION (scripts/versions.env), building it if needed (the first build takes minutes).
Progress goes to stderr; stdout carries only the path.
USAGE
}

parse_no_args "$@"

manifest="$SCRIPTS_DIR/otelcol/builder-config.yaml"
want="$COLLECTOR_VERSION"
[[ -f "$manifest" ]] || die "no builder manifest at $manifest"

# One release for all: every v0 module and the distribution's version are the pin (v1 modules are
# the stable twins of the same release).
stray="$(awk -v want="v$want" '$1 == "-" && $2 == "gomod:" && $4 ~ /^v0\./ && $4 != want { print $3 " " $4 }' "$manifest")"
[[ -z "$stray" ]] || die "$manifest has modules not at v$want (COLLECTOR_VERSION): $stray"
grep -Eq "^[[:space:]]+version:[[:space:]]+${want}[[:space:]]*$" "$manifest" \
  || die "$manifest: dist.version is not $want (COLLECTOR_VERSION)"

sum="$(cksum <"$manifest" | cut -d' ' -f1)"
install_dir="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/tools/otelcol-$want-$sum"
target="$install_dir/otelcol"
if [[ -x "$target" ]]; then
  log "otelcol $want found at $target"
  printf '%s\n' "$target"
  exit 0
fi

need_tools go
builder="$(go_tool builder go.opentelemetry.io/collector/cmd/builder "$want")"

mkdir -p "$install_dir"
# Built inside the install dir (removed on exit), so the final move is an atomic rename.
build_dir=""
TMPDIR="$install_dir" make_temp_dir build_dir

log "building otelcol $want with the OpenTelemetry Collector Builder (first build: minutes)"
started="$(date +%s)"
# GOTOOLCHAIN=auto: an older Go fetches the release the generated go.mod asks for.
(
  cd "$build_dir"
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=auto "$builder" --config "$manifest" --ldflags="-s -w"
) >&2 || die "the OpenTelemetry Collector Builder failed (see the output above)"

tmp="$build_dir/otelcol-build/otelcol"
built="$("$tmp" --version 2>/dev/null || true)"
[[ "$built" == "otelcol version $want" ]] || die "the otelcol just built reports '$built', not version $want"
mv -f "$tmp" "$target"
log "built otelcol $want in $(($(date +%s) - started)) s: $target"
printf '%s\n' "$target"
