#!/usr/bin/env bash
# Builds the Secure IP Access QPKGs: build/qpkg/SecureIPAccess_<version>_<arch>.qpkg for the QNAP arch
# folders x86_64, arm_64, arm-x41 and arm-x31 (table: scripts/packaging/targets.sh). Self-contained: each
# carries Node.js, its C libraries and loader, the module, node_modules and the native helper for its CPU.
# Reproducible: same commit, same bytes (SOURCE_DATE_EPOCH = last commit's time unless set).
# Environment: SIPA_ARCHES="x86_64 arm_64" (subset), SIPA_OUT=dir (default build/qpkg),
#   SIPA_VERSION (QPKG_VER; default package.json's version),
# Downloads (npm tarballs) and compiled addons are cached in build/cache/.
set -euo pipefail
umask 022
REPO=$(cd "$(dirname "$0")/.." && pwd)
SIPA_STEP=qpkg
# shellcheck source=packaging/targets.sh
. "$REPO/scripts/packaging/targets.sh"
# shellcheck source=packaging/lib.sh
. "$REPO/scripts/packaging/lib.sh"
# shellcheck source=packaging/runtime.sh
. "$REPO/scripts/packaging/runtime.sh"
# shellcheck source=packaging/qpkg-format.sh
. "$REPO/scripts/packaging/qpkg-format.sh"

started=$(date +%s)
OUT=${SIPA_OUT:-$REPO/build/qpkg}
start_build qpkg

VERSION=${SIPA_VERSION:-$(node -p "require('$REPO/package.json').version")}
[ ${#VERSION} -le 10 ] || die "version '$VERSION' is longer than QPKG_VER's 10 characters"
COMMIT=${SIPA_COMMIT:-$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
say "Secure IP Access $VERSION ($COMMIT), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, arches: $(sipa_targets | awk '{ printf "%s ", $1 }')"

stage_all

# data.tar.gz per CPU (identical for arm-x41 and arm-x31): the runtime, the service script, the icons.
for cpu in $STAGED_CPUS; do
  d="$WORK/data-$cpu"
  cp -a "$WORK/rt/$cpu" "$d"
  cp "$REPO/qpkg/sipa.sh" "$d/$SIPA_SERVICE"; chmod 755 "$d/$SIPA_SERVICE"
  cp "$REPO/qpkg/icons/$SIPA_QPKG_NAME.gif" "$d/.qpkg_icon.gif"
  cp "$REPO/qpkg/icons/${SIPA_QPKG_NAME}_80.gif" "$d/.qpkg_icon_80.gif"
  cp "$REPO/qpkg/icons/${SIPA_QPKG_NAME}_gray.gif" "$d/.qpkg_icon_gray.gif"
  chmod 644 "$d"/.qpkg_icon*.gif
  # QDK's qbuild refuses a QPKG_CONFIG file the package does not ship (add_config_data).
  while IFS= read -r c; do
    [ -f "$d/$c" ] || die "$cpu: QPKG_CONFIG names $c, which the data archive does not ship"
  done < <(sed -n 's/^QPKG_CONFIG="\(.*\)"/\1/p' "$REPO/qpkg/qpkg.cfg.in")
  build_unxz "$cpu" "$WORK/unxz-$cpu"
done
# xz (a third smaller than gzip here); one thread each, the CPUs side by side.
pids=()
for cpu in $STAGED_CPUS; do
  say "$cpu: compressing data.tar.xz"
  det_txz "$WORK/data-$cpu.tar.xz" "$WORK/data-$cpu" "$cpu" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "compressing a data archive failed"; done

mkdir -p "$OUT"
summary=()
while read -r folder cpu _; do
  sipa_target "$folder"
  f="$OUT/${SIPA_QPKG_NAME}_${VERSION}_${folder}.qpkg"
  QPKG_UNXZ="$WORK/unxz-$cpu" qpkg_assemble "$folder" "$VERSION" "$WORK/data-$cpu.tar.xz" "$WORK/control-$folder" "$f" \
    "commit = $COMMIT"
  summary+=("$(printf '  %-8s %-44s %10s bytes (%s)' "$folder" "${f#"$REPO"/}" "$(fsize "$f")" "$(mib "$(fsize "$f")")")")
done < <(sipa_targets)

cp "$WORK/pruned-node_modules.txt" "$OUT/pruned-node_modules.txt"
say "built in $(( $(date +%s) - started )) s:"
printf '%s\n' "${summary[@]}"
