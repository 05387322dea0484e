#!/usr/bin/env bash
# Builds the rootfs overlay of Secure IP Access for firmware images, per QNAP arch folder:
#   build/overlay/<arch>/                      the files, rooted at / of the image:
#     usr/local/sipa/...                       the same runtime as the QPKG (bin, lib, app, web, sipa.sh)
#     usr/local/sipa/etc/sipa.json             default config (data dir on the flash config partition)
#     usr/local/sipa/etc/panel.conf            the panel's registration keys (qpkg.conf section)
#     usr/local/sipa/MANIFEST.sha256           sha256 of every other file of the overlay (sorted paths from /)
#     etc/init.d/sipa.sh                       init script (standalone mode of the service script)
#     etc/rcS.d/S98sipa, etc/rcK.d/K02sipa     start at boot, stop at shutdown (links to ../init.d/sipa.sh)
#   build/overlay/sipa-overlay_<version>_<arch>.tar.gz   the same tree as a reproducible archive
# Environment as for build-qpkg.sh (SIPA_ARCHES, SIPA_OUT, SOURCE_DATE_EPOCH).
set -euo pipefail
umask 022
REPO=$(cd "$(dirname "$0")/.." && pwd)
SIPA_STEP=overlay
# shellcheck source=packaging/targets.sh
. "$REPO/scripts/packaging/targets.sh"
# shellcheck source=packaging/lib.sh
. "$REPO/scripts/packaging/lib.sh"
# shellcheck source=packaging/runtime.sh
. "$REPO/scripts/packaging/runtime.sh"

started=$(date +%s)
OUT=${SIPA_OUT:-$REPO/build/overlay}
start_build overlay
VERSION=$(node -p "require('$REPO/package.json').version")
say "Secure IP Access $VERSION overlay, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, arches: $(sipa_targets | awk '{ printf "%s ", $1 }')"

stage_all

mkdir -p "$OUT"
summary=()
while read -r folder cpu _; do
  sipa_target "$folder"
  o="$OUT/$folder"
  rm -rf "$o" "$OUT/sipa-overlay_${VERSION}_$folder.tar.gz"
  r="$o$SIPA_OVERLAY_ROOT"
  mkdir -p "$r" "$o/etc/init.d" "$o/etc/rcS.d" "$o/etc/rcK.d"
  cp -a "$WORK/rt/$cpu/." "$r/"
  cp "$REPO/qpkg/sipa.sh" "$r/$SIPA_SERVICE"
  cat > "$r/etc/panel.conf" <<CONF
# Registered into /etc/config/qpkg.conf [$SIPA_QPKG_NAME] by /etc/init.d/sipa.sh at start when absent.
Name = $SIPA_QPKG_NAME
Display_Name = $SIPA_DISPLAY_NAME
Version = $VERSION
Author = $SIPA_AUTHOR
Shell = /etc/init.d/$SIPA_SERVICE
Install_Path = $SIPA_OVERLAY_ROOT
Config_Path = $SIPA_OVERLAY_ROOT/etc/sipa.json
RC_Number = $SIPA_RC_NUM
WebUI = $SIPA_PROXY_PATH/
Web_Port = $SIPA_WEB_PORT
Use_Proxy = 1
Proxy_Path = $SIPA_PROXY_PATH
Timeout = $SIPA_TIMEOUT
Enable = TRUE
Status = complete
CONF
  sed "s|@OVERLAY_ROOT@|$SIPA_OVERLAY_ROOT|g" "$REPO/rootfs-overlay/etc/init.d/sipa.sh" > "$o/etc/init.d/$SIPA_SERVICE"
  chmod 755 "$o/etc/init.d/$SIPA_SERVICE" "$r/$SIPA_SERVICE"
  # Started at boot as the firmware's own services are, by rcS from /etc/rcS.d (inferred; qpkg/README.md "Overlay").
  ln -s "../init.d/$SIPA_SERVICE" "$o/etc/rcS.d/S${SIPA_OVERLAY_START}sipa"
  ln -s "../init.d/$SIPA_SERVICE" "$o/etc/rcK.d/K${SIPA_OVERLAY_STOP}sipa"
  chmod 644 "$r/etc/sipa.json" "$r/etc/panel.conf"
  find "$o" -type d -exec chmod 755 {} +
  ( cd "$o" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum ) |
    sed 's|  \./|  /|' > "$WORK/MANIFEST.sha256"
  mv "$WORK/MANIFEST.sha256" "$r/MANIFEST.sha256"
  chmod 644 "$r/MANIFEST.sha256"
  # The unpacked tree carries the same times as the archive, not the build's.
  find "$o" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  # Only what the overlay owns: no entries for /, /etc, /etc/init.d, /usr, /usr/local (unpacking would re-stamp them).
  ( cd "$o" && { find ".$SIPA_OVERLAY_ROOT"; find ./etc -mindepth 2 ! -type d; } | LC_ALL=C sort ) > "$WORK/overlay-members"
  det_tar - "$o" --no-recursion -T "$WORK/overlay-members" | gzip -n -6 > "$OUT/sipa-overlay_${VERSION}_$folder.tar.gz"
  f="$OUT/sipa-overlay_${VERSION}_$folder.tar.gz"
  summary+=("$(printf '  %-8s %-50s %10s bytes (%s), %s files' "$folder" "${f#"$REPO"/}" "$(fsize "$f")" \
    "$(mib "$(fsize "$f")")" "$(wc -l < "$r/MANIFEST.sha256")")")
done < <(sipa_targets)

say "built in $(( $(date +%s) - started )) s:"
printf '%s\n' "${summary[@]}"
