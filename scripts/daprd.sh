#!/usr/bin/env bash
# Makes sure the pinned Dapr sidecar (daprd), or Dapr's certificate authority (sentry), is available
# and prints its path on stdout, alone.
#
# daprd: reuses $DAPR_INSTALL_DIR/daprd (default ~/.dapr/bin/daprd, where `dapr init --slim` puts it)
# when its version is the pin. sentry: kept in the tools cache under its version. Otherwise each is
# built from the Go module proxy with the tool module in scripts/daprd/ and moved in place
# atomically. The first build takes minutes; later runs are instant.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_versions
need_version DAPR_RUNTIME_VERSION

usage() {
  cat <<'EOF'
Usage: scripts/daprd.sh [daprd|sentry]

Prints the path of the daprd (default) or sentry binary at DAPR_RUNTIME_VERSION (scripts/versions.env),
building it if needed. Progress goes to stderr; stdout carries only the path.

Environment:
  DAPR_INSTALL_DIR    where daprd is kept and looked for (default ~/.dapr/bin)
  DAPRD_MODULE_DIR    the Go tool module that builds it (default scripts/daprd)
EOF
}

program=daprd
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "" | daprd) ;;
  sentry) program=sentry ;;
  *) usage >&2; exit 2 ;;
esac

module_dir="${DAPRD_MODULE_DIR:-$SCRIPTS_DIR/daprd}"
want="$DAPR_RUNTIME_VERSION"

# daprd --version prints the bare version, e.g. 1.18.2. sentry has no such flag: its path says it.
daprd_version() { "$1" --version 2>/dev/null | head -n1 | tr -d '[:space:]' || true; }

if [[ "$program" == daprd ]]; then
  install_dir="${DAPR_INSTALL_DIR:-$HOME/.dapr/bin}"
  target="$install_dir/daprd"
  if [[ -x "$target" ]]; then
    have="$(daprd_version "$target")"
    if [[ "$have" == "$want" ]]; then
      log "daprd $want found at $target"
      printf '%s\n' "$target"
      exit 0
    fi
    log "daprd at $target is version '${have:-unknown}', not $want: building $want"
  fi
else
  install_dir="${XDG_CACHE_HOME:-$HOME/.cache}/dapr-tracing-demo/tools/sentry-$want"
  target="$install_dir/sentry"
  if [[ -x "$target" ]]; then
    log "sentry $want found at $target"
    printf '%s\n' "$target"
    exit 0
  fi
fi

# The module must build exactly the pinned runtime, or the version stamped below would lie.
[[ -f "$module_dir/go.mod" ]] || die "no Go module at $module_dir (expected go.mod requiring github.com/dapr/dapr)"
mod_version="$(awk '$1 == "github.com/dapr/dapr" { print $2; exit } $2 == "github.com/dapr/dapr" { print $3; exit }' "$module_dir/go.mod")"
[[ "$mod_version" == "v$want" ]] \
  || die "$module_dir/go.mod requires github.com/dapr/dapr ${mod_version:-(none)}, but scripts/versions.env pins DAPR_RUNTIME_VERSION=$want; make them agree"

# The toolchain is the one go.mod names: a dependency's assembly does not build with newer Go releases.
toolchain="$(awk '$1 == "toolchain" { print $2; exit }' "$module_dir/go.mod")"
[[ -n "$toolchain" ]] || toolchain="go$(awk '$1 == "go" { print $2; exit }' "$module_dir/go.mod")"
[[ "$toolchain" =~ ^go[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || die "cannot tell the Go toolchain from $module_dir/go.mod (got '$toolchain')"

command -v go >/dev/null 2>&1 \
  || die "go is not installed: $program $want is built from source with Go (any release >= 1.21 fetches $toolchain by itself). Install Go from https://go.dev/dl/ or your package manager, or run 'dapr init --slim --runtime-version $want' to get a prebuilt daprd."

mkdir -p "$install_dir"
# Built inside the install dir (removed on exit), so the final move is an atomic rename.
build_dir=""
TMPDIR="$install_dir" make_temp_dir build_dir
tmp="$build_dir/$program"

log "building $program $want with $toolchain (first build: several minutes; progress below)"
started="$(date +%s)"
(
  cd "$module_dir"
  # allcomponents: without a component set daprd panics at start, and the sqlite name resolver is in it.
  GOFLAGS=-buildvcs=false GOTOOLCHAIN="$toolchain" go build -mod=readonly -trimpath -tags allcomponents \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$want" \
    -o "$tmp" "github.com/dapr/dapr/cmd/$program"
) >&2 || die "go build of $program $want failed (see the output above)"

chmod 0755 "$tmp"
if [[ "$program" == daprd ]]; then
  built="$(daprd_version "$tmp")"
  [[ "$built" == "$want" ]] || die "the daprd just built reports version '$built', not $want"
fi
mv -f "$tmp" "$target"
log "built $program $want in $(($(date +%s) - started)) s: $target"
printf '%s\n' "$target"
