#!/usr/bin/env bash
# repack-qpkg.sh IN.qpkg VERSION OUTDIR: the same package under another QPKG_VER, without rebuilding.
# The data archive is copied byte for byte (so app/package.json inside still says the version it was built
# as); the control archive, the header and the tail are made anew by qpkg_assemble, as build-qpkg.sh makes
# them, and built_info records "repacked_from = <old version>". Used by test/packaging to get a second,
# newer package for the upgrade test in seconds instead of a second build. SOURCE_DATE_EPOCH as for builds.
set -euo pipefail
umask 022
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SIPA_STEP=repack
# shellcheck source=targets.sh
. "$REPO/scripts/packaging/targets.sh"
# shellcheck source=lib.sh
. "$REPO/scripts/packaging/lib.sh"
# shellcheck source=qpkg-format.sh
. "$REPO/scripts/packaging/qpkg-format.sh"

[ $# -eq 3 ] || die "usage: repack-qpkg.sh IN.qpkg VERSION OUTDIR"
in=$1 version=$2 out=$3
[ -f "$in" ] || die "$in: no such file"
sipa_source_date_epoch
work=$(mktemp -d "${TMPDIR:-/tmp}/sipa-repack.XXXXXX")
trap 'rm -rf "$work"' EXIT

read -r s c d < <(qpkg_lengths "$in")
cut_out() { dd if="$in" bs=1M iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none; }
cut_out "$s" "$c" | tar -xOf - | tar -xzf - -C "$work" ./built_info ||
  die "$in: cannot read built_info from the control archive"
data_name=$(qpkg_data_name "$in")
[ -n "$data_name" ] || die "$in: its header names no data archive"
if [ "$data_name" = data.tar.xz ]; then
  cut_out "$s" "$c" | tar -xOf - | tar -xzf - -C "$work" ./unxz || die "$in: no unxz in the control archive"
  export QPKG_UNXZ="$work/unxz"
fi
folder=$(sed -n 's/^arch = //p' "$work/built_info")
old=$(sed -n 's/^version = //p' "$work/built_info")
{ [ -n "$folder" ] && [ -n "$old" ]; } || die "$in: built_info has no arch or version"
cut_out $((s + c)) "$d" > "$work/$data_name"
[ "$(fsize "$work/$data_name")" = "$d" ] || die "$in: the data archive is truncated"

mkdir -p "$out"
f="$out/${SIPA_QPKG_NAME}_${version}_${folder}.qpkg"
mapfile -t kept < <(grep -E '^commit = ' "$work/built_info")
qpkg_assemble "$folder" "$version" "$work/$data_name" "$work/control" "$f" "${kept[@]}" "repacked_from = $old"
say "$folder: $(basename "$in") → ${f#"$REPO"/} (QPKG_VER $old → $version)"
