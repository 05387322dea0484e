#!/usr/bin/env bash
# Builds the rootfs overlay of Secure IP Access for firmware images, per QNAP arch folder:
#   build/overlay/<arch>/                      the files, rooted at / of the image:
#     usr/local/sipa/...                       the same runtime as the QPKG (bin, lib, app, web, sipa.sh)
#     usr/local/sipa/etc/sipa.json             default config (data dir on the flash config partition)
#     usr/local/sipa/etc/panel.conf            the panel's registration keys (qpkg.conf section)
#     etc/init.d/sipa.sh                       init script (standalone mode of the service script)
#   build/overlay/<arch>/MANIFEST.sha256       sha256 of every file above (sorted paths, relative to /)
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
  mkdir -p "$r" "$o/etc/init.d"
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
  chmod 644 "$r/etc/sipa.json" "$r/etc/panel.conf"
  find "$o" -type d -exec chmod 755 {} +
  ( cd "$o" && find . -type f ! -name MANIFEST.sha256 -print0 | LC_ALL=C sort -z | xargs -0 sha256sum ) |
    sed 's|  \./|  /|' > "$WORK/MANIFEST.sha256"
  mv "$WORK/MANIFEST.sha256" "$o/MANIFEST.sha256"
  det_tgz "$OUT/sipa-overlay_${VERSION}_$folder.tar.gz" "$o"
  f="$OUT/sipa-overlay_${VERSION}_$folder.tar.gz"
  summary+=("$(printf '  %-8s %-50s %10s bytes (%s), %s files' "$folder" "${f#"$REPO"/}" "$(fsize "$f")" \
    "$(mib "$(fsize "$f")")" "$(wc -l < "$o/MANIFEST.sha256")")")
done < <(sipa_targets)

say "built in $(( $(date +%s) - started )) s:"
printf '%s\n' "${summary[@]}"
