#!/usr/bin/env bash
# Prints the path of an OpenTelemetry Collector with exactly the components of kubernetes/components/otel-collector
# (or, with `datadog`, of the DDOT config in datadog/), built from the Go module proxy if needed (see usage).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_versions

usage() {
  cat <<'USAGE'
Usage: scripts/otelcol.sh [datadog]

Prints the path of the otelcol binary built from scripts/otelcol/builder-config.yaml at
COLLECTOR_VERSION (scripts/versions.env), or with `datadog` of otelcol-datadog, built from
scripts/otelcol/datadog.yaml at DATADOG_COLLECTOR_VERSION, building it if needed (the first build takes
minutes). Progress goes to stderr; stdout carries only the path.
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") manifest="$SCRIPTS_DIR/otelcol/builder-config.yaml" pin=COLLECTOR_VERSION tidy=1 ;;
  # The builder's `go mod tidy` also wants the modules of the Datadog modules' own tests, which the Go
  # module proxy refuses: this one is resolved by `go get`, which takes only what is built.
  datadog) manifest="$SCRIPTS_DIR/otelcol/datadog.yaml" pin=DATADOG_COLLECTOR_VERSION tidy=0 ;;
  *) usage >&2; die "unknown argument: $1" ;;
esac
need_version "$pin"
want="${!pin}"

# One release for all: every v0 module and the distribution's version are the pin (v1 modules are
# the stable twins of the same release).
stray="$(awk -v want="v$want" '$1 == "-" && $2 == "gomod:" && $4 ~ /^v0\./ && $4 != want { print $3 " " $4 }' "$manifest")"
[[ -z "$stray" ]] || die "$manifest has modules not at v$want ($pin): $stray"
grep -Eq "^[[:space:]]+version:[[:space:]]+${want}[[:space:]]*$" "$manifest" \
  || die "$manifest: dist.version is not $want ($pin)"

name="$(awk '$1 == "name:" { print $2; exit }' "$manifest")"
[[ -n "$name" ]] || die "$manifest: no dist.name"
# Kept under the version and a checksum of the manifest: a changed manifest builds anew.
sum="$(cksum <"$manifest" | cut -d' ' -f1)"
install_dir="$TOOLS_DIR/$name-$want-$sum"
target="$install_dir/$name"
if [[ -x "$target" ]]; then
  log "$name $want found at $target"
  printf '%s\n' "$target"
  exit 0
fi

need_tools go
builder="$(go_tool builder go.opentelemetry.io/collector/cmd/builder "$want")"

mkdir -p "$install_dir"
# Built inside the install dir (removed on exit), so the final move is an atomic rename.
build_dir=""
TMPDIR="$install_dir" make_temp_dir build_dir

log "building $name $want with the OpenTelemetry Collector Builder (first build: minutes)"
started="$(date +%s)"
# GOTOOLCHAIN=auto: an older Go fetches the release the generated go.mod asks for.
(
  cd "$build_dir"
  export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=auto
  if ((tidy)); then
    "$builder" --config "$manifest" --ldflags="-s -w"
  else
    "$builder" --config "$manifest" --skip-get-modules --skip-compilation
    cd otelcol-build && go get ./... && go build -trimpath -ldflags="-s -w" -o "$name" .
  fi
) >&2 || die "building $name failed (see the output above)"

tmp="$build_dir/otelcol-build/$name"
built="$("$tmp" --version 2>/dev/null || true)"
[[ "$built" == "$name version $want" ]] || die "the $name just built reports '$built', not version $want"
mv -f "$tmp" "$target"
log "built $name $want in $(($(date +%s) - started)) s: $target"
printf '%s\n' "$target"
