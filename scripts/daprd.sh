#!/usr/bin/env bash
# Prints the path of the pinned daprd, sentry or Dapr CLI, built once from the Go module proxy (see usage).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
load_versions
need_version DAPR_RUNTIME_VERSION DAPR_LOCAL_CLI_VERSION

usage() {
  cat <<'EOF'
Usage: scripts/daprd.sh [daprd|sentry|operator|injector|placement|scheduler|dapr]

Prints the path of daprd (default) or another Dapr runtime program at DAPR_RUNTIME_VERSION, or of the Dapr CLI
at DAPR_LOCAL_CLI_VERSION (scripts/versions.env), building it if needed. Progress goes to stderr;
stdout carries only the path.

Environment:
  DAPR_INSTALL_DIR    where daprd is kept and looked for (default ~/.dapr/bin)
  DAPRD_MODULE_DIR    the Go tool module that builds it (default scripts/daprd, for dapr scripts/dapr-cli)
EOF
}

program=daprd pin=DAPR_RUNTIME_VERSION module=github.com/dapr/dapr module_dir="${DAPRD_MODULE_DIR:-$SCRIPTS_DIR/daprd}"
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "" | daprd) ;;
  sentry | operator | injector | placement | scheduler) program=$1 ;;
  dapr) program=dapr pin=DAPR_LOCAL_CLI_VERSION module=github.com/dapr/cli module_dir="${DAPRD_MODULE_DIR:-$SCRIPTS_DIR/dapr-cli}" ;;
  *) usage >&2; exit 2 ;;
esac
want="${!pin}"
# allcomponents: without a component set daprd panics at start, and the sqlite name resolver is in it.
# Static (no cgo), as Dapr's own images are: the local cluster's images hold the bare binary.
build=(env CGO_ENABLED=0 go build -tags allcomponents -ldflags "-s -w -X $module/pkg/buildinfo.version=$want") package="$module/cmd/$program"
[[ "$program" == dapr ]] && build=(env CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=$want") package=$module

# daprd --version prints the bare version, e.g. 1.18.2. The others have no such flag: their path says it.
daprd_version() { "$1" --version 2>/dev/null | head -n1 | tr -d '[:space:]' || true; }

install_dir="$TOOLS_DIR/$program-$want"
[[ "$program" == daprd ]] && install_dir="${DAPR_INSTALL_DIR:-$HOME/.dapr/bin}"
target="$install_dir/$program"
# A daprd of another version (e.g. from `dapr init`) is replaced; the others are kept under their version.
if [[ -x "$target" && ( "$program" != daprd || "$(daprd_version "$target")" == "$want" ) ]]; then
  log "$program $want found at $target"
  printf '%s\n' "$target"
  exit 0
fi

# The module must build exactly the pinned runtime, or the version stamped below would lie.
[[ -f "$module_dir/go.mod" ]] || die "no Go module at $module_dir (expected go.mod requiring $module)"
mod_version="$(awk -v m="$module" '$1 == m { print $2; exit } $2 == m { print $3; exit }' "$module_dir/go.mod")"
[[ "$mod_version" == "v$want" ]] \
  || die "$module_dir/go.mod requires $module ${mod_version:-(none)}, but scripts/versions.env pins $pin=$want; make them agree"

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
  GOFLAGS=-buildvcs=false GOTOOLCHAIN="$toolchain" "${build[@]}" -mod=readonly -trimpath -o "$tmp" "$package"
) >&2 || die "go build of $program $want failed (see the output above)"

chmod 0755 "$tmp"
if [[ "$program" == daprd ]]; then
  built="$(daprd_version "$tmp")"
  [[ "$built" == "$want" ]] || die "the daprd just built reports version '$built', not $want"
fi
mv -f "$tmp" "$target"
log "built $program $want in $(($(date +%s) - started)) s: $target"
printf '%s\n' "$target"
