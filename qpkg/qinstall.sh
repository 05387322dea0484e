#!/bin/sh
# qinstall.sh — the install flow of a Secure IP Access QPKG. The header of the .qpkg unpacks control.tar.gz
# (this file, qpkg.cfg, package_routines, built_info) and data.tar.gz into a scratch dir, exports
# SYS_QPKG_INSTALL_PATH (the volume's .qpkg dir) and runs `sh qinstall.sh` there.
# Flow (QDK's order, see qpkg/README.md): pkg_init → pkg_check_requirement → firmware check → stop the old
# service (upgrade) → pkg_pre_install → save config → extract → restore config → pkg_install → icons, init
# links, qpkg.conf → pkg_post_install → .uninstall.sh → start if Enable=TRUE.
# On a NAS whose firmware carries the module (SIPA_FIRMWARE_ROOT), the package takes the service over from the
# firmware's copy, and its removal hands it back (qpkg/README.md, "Firmware and App Center").
cd "$(dirname "$0")" || exit 1
SYS_EXTRACT_DIR=$(pwd)
SYS_QPKG_CONF=/etc/config/qpkg.conf
SYS_INIT_DIR=/etc/init.d
SYS_STARTUP_DIR=/etc/rcS.d
SYS_SHUTDOWN_DIR=/etc/rcK.d
SYS_RSS_IMG_DIR=/home/httpd/RSS/images
PREFIX="App Center"

# shellcheck source=qpkg.cfg.in # the build makes qpkg.cfg from it
. ./qpkg.cfg
QPKG_DISPLAY_NAME=${QPKG_DISPLAY_NAME:-$QPKG_NAME}
if [ -z "${SYS_QPKG_INSTALL_PATH:-}" ]; then
  echo "qinstall.sh: SYS_QPKG_INSTALL_PATH is not set (run the .qpkg file, not this script)" >&2
  exit 1
fi
SYS_QPKG_DIR="$SYS_QPKG_INSTALL_PATH/$QPKG_NAME"

set_progress() { echo "$1" > /tmp/update_process 2>/dev/null || :; }
qts_log() {  # level message
  [ -x /sbin/log_tool ] && /sbin/log_tool -t"$1" -uSystem -p127.0.0.1 -mlocalhost -a "$2" >/dev/null 2>&1
  return 0
}
log()      { echo "$1"; qts_log 0 "$1"; }
warn_log() { echo "$1" >&2; qts_log 1 "$1"; }
err_log()  { echo "$1" >&2; qts_log 2 "$1"; restore_config; set_progress -1; exit 1; }
set_qpkg_field() { /sbin/setcfg "$QPKG_NAME" "$1" "$2" -f "$SYS_QPKG_CONF"; }

# ver_ge A B: dotted numeric versions, A >= B.
ver_ge() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, "."); m = split(b, y, "."); if (m > n) n = m
    for (i = 1; i <= n; i++) { if (x[i] + 0 > y[i] + 0) exit 0; if (x[i] + 0 < y[i] + 0) exit 1 }
    exit 0 }'
}

# The installed QPKG_CONFIG files are kept across an upgrade (the package ships defaults of the same names);
# SYS_QPKG_CONFIG_KEPT lists those that were.
SYS_QPKG_CONFIG_KEPT=
# save_config [FROM_DIR]: the installed files, or (take-over) those of the firmware's copy.
save_config() {
  from=${1:-$SYS_QPKG_DIR}
  for f in $QPKG_CONFIG; do
    if [ -f "$from/$f" ]; then
      SYS_QPKG_CONFIG_KEPT="$SYS_QPKG_CONFIG_KEPT $f"
      mkdir -p "$SYS_EXTRACT_DIR/keep/$(dirname "$f")"
      cp -p "$from/$f" "$SYS_EXTRACT_DIR/keep/$f"
    fi
  done
}
restore_config() {
  [ -d "$SYS_EXTRACT_DIR/keep" ] || return 0
  for f in $QPKG_CONFIG; do
    if [ -f "$SYS_EXTRACT_DIR/keep/$f" ]; then
      mkdir -p "$SYS_QPKG_DIR/$(dirname "$f")"
      cp -p "$SYS_EXTRACT_DIR/keep/$f" "$SYS_QPKG_DIR/$f"
    fi
  done
}

# The firmware's own version: QDK 2.5.3 reads the image's /etc/default_config/uLinux.conf (the user's copy in
# /etc/config can be stale after a firmware update); older QTS has only /etc/config/uLinux.conf.
check_firmware() {
  fw=$(/sbin/getcfg System Version -f /etc/default_config/uLinux.conf 2>/dev/null)
  [ -n "$fw" ] || fw=$(/sbin/getcfg System Version -f /etc/config/uLinux.conf 2>/dev/null)
  if [ -z "$fw" ]; then
    warn_log "[$PREFIX] cannot read the firmware version (/etc/default_config/uLinux.conf, /etc/config/uLinux.conf); installing anyway."
  elif [ -n "${QTS_MINI_VERSION:-}" ] && ! ver_ge "$fw" "$QTS_MINI_VERSION"; then
    err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME $QPKG_VER: it needs QTS $QTS_MINI_VERSION or later (this NAS runs $fw)."
  fi
}

# Copies, as QDK's copy_qpkg_icons makes them (the web server may not follow links onto a volume).
install_icons() {
  [ -d "$SYS_RSS_IMG_DIR" ] || return 0
  for suffix in "" _80 _gray; do
    rm -f "$SYS_RSS_IMG_DIR/$QPKG_NAME$suffix.gif"
    [ -f "$SYS_QPKG_DIR/.qpkg_icon$suffix.gif" ] &&
      cp -af "$SYS_QPKG_DIR/.qpkg_icon$suffix.gif" "$SYS_RSS_IMG_DIR/$QPKG_NAME$suffix.gif"
  done
  return 0
}

# QDK's link_start_stop_script: the init link, QS<rc> for start-up and QK<1000 - rc> for shutdown. A firmware
# image's own /etc/init.d/sipa.sh (a file, not a link) stays: it hands every verb to the installed package.
shutdown_link() { echo "$SYS_SHUTDOWN_DIR/QK$(printf '%03d' $((1000 - QPKG_RC_NUM)))$QPKG_NAME"; }
install_links() {
  init=$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM
  if [ ! -e "$init" ] || [ -L "$init" ]; then ln -sf "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" "$init"; fi
  mkdir -p "$SYS_STARTUP_DIR" "$SYS_SHUTDOWN_DIR"
  ln -sf "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM" "$SYS_STARTUP_DIR/QS${QPKG_RC_NUM}${QPKG_NAME}"
  ln -sf "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM" "$(shutdown_link)"
}

register() {
  set_qpkg_field Name "$QPKG_NAME"
  set_qpkg_field Display_Name "$QPKG_DISPLAY_NAME"
  set_qpkg_field Version "$QPKG_VER"
  set_qpkg_field Author "$QPKG_AUTHOR"
  set_qpkg_field QPKG_File "$QPKG_NAME.qpkg"
  set_qpkg_field Date "$(date +%Y-%m-%d)"
  set_qpkg_field Shell "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM"
  set_qpkg_field Install_Path "$SYS_QPKG_DIR"
  set_qpkg_field Config_Path "$SYS_QPKG_DIR/${QPKG_CONFIG%% *}"
  set_qpkg_field RC_Number "$QPKG_RC_NUM"
  set_qpkg_field WebUI "$QPKG_WEBUI"
  set_qpkg_field Web_Port "$QPKG_WEB_PORT"
  set_qpkg_field Use_Proxy "$QPKG_USE_PROXY"
  set_qpkg_field Proxy_Path "$QPKG_PROXY_PATH"
  set_qpkg_field Timeout "$QPKG_TIMEOUT"
  set_qpkg_field FW_Ver_Min "$QTS_MINI_VERSION"
  set_qpkg_field Distribution_Type "${QPKG_DISTRIBUTION_TYPE:-0}"
  build=$(/sbin/getcfg "" time -f ./built_info)
  [ -n "$build" ] && set_qpkg_field Build "$build"
  set_qpkg_field Enable "$SYS_QPKG_SERVICE_ENABLED"
  set_qpkg_field Status complete
}

# .uninstall.sh: App Center runs it on removal. QDK's order (create_uninstall_script): the service's stop and
# remove verbs, PKG_PRE_REMOVE, the files (install dir, init and rc links, icons), PKG_MAIN_REMOVE,
# PKG_POST_REMOVE. The PKG_*_REMOVE texts come from package_routines and run with QPKG_ROOT set.
write_uninstall() {
  {
    echo '#!/bin/sh'
    echo "# Removes $QPKG_DISPLAY_NAME $QPKG_VER. Written by qinstall.sh at install time."
    echo "QPKG_NAME='$QPKG_NAME'"
    echo "QPKG_ROOT='$SYS_QPKG_DIR'"
    echo "QPKG_SERVICE_PROGRAM='$QPKG_SERVICE_PROGRAM'"
    echo "SIPA_FIRMWARE_ROOT='$SIPA_FIRMWARE_ROOT'"
    cat <<'UNINSTALL'
# The firmware carries the module too: the service goes back to its copy (the service's remove verb starts it),
# and what that copy uses (its init script, run and log dirs, web link, store) stays.
SIPA_HANDBACK=0
[ -f "$SIPA_FIRMWARE_ROOT/sipa.sh" ] && [ -f "$SIPA_FIRMWARE_ROOT/etc/panel.conf" ] && SIPA_HANDBACK=1
qts_log() { [ -x /sbin/log_tool ] && /sbin/log_tool -t"$1" -uSystem -p127.0.0.1 -mlocalhost -a "$2" >/dev/null 2>&1; return 0; }
log()      { echo "$1"; qts_log 0 "$1"; }
warn_log() { echo "$1" >&2; qts_log 1 "$1"; }
# --- the service: stop, then remove (undoes what it did to the system while its files are still here)
service=$QPKG_ROOT/$QPKG_SERVICE_PROGRAM
[ -x "$service" ] || service=/etc/init.d/$QPKG_SERVICE_PROGRAM
if [ -x "$service" ]; then
  "$service" stop
  "$service" remove
fi
# --- PKG_PRE_REMOVE
UNINSTALL
    printf '%s\n' "$PKG_PRE_REMOVE"
    cat <<UNINSTALL
# --- the install dir, init and rc links, icons
rm -rf "\${QPKG_ROOT:?}"
[ ! -L "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM" ] || rm -f "$SYS_INIT_DIR/$QPKG_SERVICE_PROGRAM"
rm -f "$SYS_STARTUP_DIR/QS${QPKG_RC_NUM}${QPKG_NAME}" "$(shutdown_link)"
rm -f "$SYS_RSS_IMG_DIR/$QPKG_NAME.gif" "$SYS_RSS_IMG_DIR/${QPKG_NAME}_80.gif" "$SYS_RSS_IMG_DIR/${QPKG_NAME}_gray.gif"
# --- PKG_MAIN_REMOVE
UNINSTALL
    printf '%s\n' "$PKG_MAIN_REMOVE"
    echo '# --- PKG_POST_REMOVE'
    printf '%s\n' "$PKG_POST_REMOVE"
    cat <<'UNINSTALL'
# --- the qpkg.conf section (App Center may also do this; doing it twice is harmless)
conf=/etc/config/qpkg.conf
if [ -f "$conf" ] && grep -q "^\[$QPKG_NAME\]" "$conf"; then
  awk -v s="[$QPKG_NAME]" '/^\[/ { skip = ($0 == s) } !skip' "$conf" > "$conf.sipa.$$" &&
    cat "$conf.sipa.$$" > "$conf"
  rm -f "$conf.sipa.$$"
fi
# --- the firmware's copy registers itself again (its section, with its version and path)
if [ "$SIPA_HANDBACK" = 1 ]; then
  SIPA_STANDALONE=1 SIPA_ROOT=$SIPA_FIRMWARE_ROOT /bin/sh "$SIPA_FIRMWARE_ROOT/sipa.sh" start >/dev/null
fi
log "[App Center] $QPKG_NAME removed."
UNINSTALL
  } > "$SYS_QPKG_DIR/.uninstall.sh"
  chmod 755 "$SYS_QPKG_DIR/.uninstall.sh"
}

# data.tar.xz through the unxz of the control archive (QTS may have no xz; QDK ships one too); SIPA_EMULATOR is
# for the tests' fake NAS of another CPU (qemu-user), as in bin/sipa.
extract_data() {
  case "$SYS_QPKG_DATA_FILE" in
    *.xz)
      rm -f ./unxz.failed
      { ${SIPA_EMULATOR:+"$SIPA_EMULATOR"} ./unxz < "$SYS_QPKG_DATA_FILE" || echo failed > ./unxz.failed; } |
        tar -xv -C "$SYS_QPKG_DIR" > "$SYS_QPKG_DIR/.list" 2>/dev/null || return 1
      [ ! -f ./unxz.failed ] ;;
    *) tar -xzvf "$SYS_QPKG_DATA_FILE" -C "$SYS_QPKG_DIR" > "$SYS_QPKG_DIR/.list" 2>/dev/null ;;
  esac
}

# The firmware image carries the module (the overlay's own registration file is there).
firmware_carries_it() {
  [ -n "${SIPA_FIRMWARE_ROOT:-}" ] && [ -f "$SIPA_FIRMWARE_ROOT/sipa.sh" ] && [ -f "$SIPA_FIRMWARE_ROOT/etc/panel.conf" ]
}
# A package older than the firmware's copy would run an older daemon on a store the newer one may have migrated.
take_over_check() {
  SYS_FIRMWARE_VER=$(/sbin/getcfg "" Version -f "$SIPA_FIRMWARE_ROOT/etc/panel.conf")
  if [ -n "$SYS_FIRMWARE_VER" ] && ! ver_ge "$QPKG_VER" "$SYS_FIRMWARE_VER"; then
    err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME $QPKG_VER: this NAS's firmware already carries $QPKG_DISPLAY_NAME $SYS_FIRMWARE_VER, which is newer. Nothing was changed."
  fi
}

main() {
  set_progress 0
  . ./package_routines
  pkg_init
  pkg_check_requirement
  check_firmware
  if [ -f ./data.tar.xz ]; then SYS_QPKG_DATA_FILE=./data.tar.xz
  elif [ -f ./data.tar.gz ]; then SYS_QPKG_DATA_FILE=./data.tar.gz
  else err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME: data file not found."
  fi

  old_dir=$(/sbin/getcfg "$QPKG_NAME" Install_Path -f "$SYS_QPKG_CONF")
  SYS_QPKG_TAKEOVER=FALSE
  if firmware_carries_it && { [ -z "$old_dir" ] || [ "$old_dir" = "$SIPA_FIRMWARE_ROOT" ] || [ ! -d "$old_dir" ]; }; then
    take_over_check
    SYS_QPKG_TAKEOVER=TRUE
    SYS_QPKG_UPGRADE=FALSE
    SYS_QPKG_SERVICE_ENABLED=TRUE
    log "[$PREFIX] $QPKG_DISPLAY_NAME $QPKG_VER takes over from the firmware's copy ($SYS_FIRMWARE_VER in $SIPA_FIRMWARE_ROOT): same config and store, enforcement carries on."
  elif [ -n "$old_dir" ] && [ -d "$old_dir" ]; then
    SYS_QPKG_UPGRADE=TRUE
    SYS_QPKG_DIR=$old_dir                   # an upgrade stays on the volume it was installed on
    SYS_QPKG_SERVICE_ENABLED=$(/sbin/getcfg "$QPKG_NAME" Enable -u -d FALSE -f "$SYS_QPKG_CONF")
    log "[$PREFIX] upgrading $QPKG_DISPLAY_NAME $(/sbin/getcfg "$QPKG_NAME" Version -f "$SYS_QPKG_CONF") to $QPKG_VER."
    if [ -x "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" ]; then
      "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" stop || warn_log "[$PREFIX] the old service did not stop cleanly."
    fi
  else
    SYS_QPKG_UPGRADE=FALSE
    SYS_QPKG_SERVICE_ENABLED=TRUE
  fi
  set_progress 1
  pkg_pre_install
  if [ "$SYS_QPKG_TAKEOVER" = TRUE ]; then save_config "$SIPA_FIRMWARE_ROOT"; else save_config; fi
  mkdir -p "$SYS_QPKG_DIR" || err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME: cannot create $SYS_QPKG_DIR."
  extract_data || err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME due to data file error."
  restore_config
  # The firmware's config is world-readable in the image; the package's own copy is root's alone.
  [ "$SYS_QPKG_TAKEOVER" != TRUE ] || for f in $QPKG_CONFIG; do chmod 600 "$SYS_QPKG_DIR/$f" 2>/dev/null; done
  pkg_install
  install_icons
  install_links
  register
  pkg_post_install
  write_uninstall
  set_progress 2
  log "[$PREFIX] $QPKG_DISPLAY_NAME $QPKG_VER installed in $SYS_QPKG_DIR."
  # QDK's set_qpkg_status: a service that does not start leaves the package disabled.
  if [ "$SYS_QPKG_SERVICE_ENABLED" = TRUE ]; then
    if "$SYS_QPKG_DIR/$QPKG_SERVICE_PROGRAM" start; then
      log "[$PREFIX] Enabled $QPKG_DISPLAY_NAME."
    elif [ "$SYS_QPKG_TAKEOVER" = TRUE ]; then
      # Nothing half-done over a working firmware copy: the removal hands the service back to it.
      sh "$SYS_QPKG_DIR/.uninstall.sh" >/dev/null 2>&1
      rm -rf "$SYS_EXTRACT_DIR/keep"
      err_log "[$PREFIX] Failed to install $QPKG_DISPLAY_NAME $QPKG_VER: its service did not start (see /var/log/sipa/sipa.log); the firmware's copy ($SYS_FIRMWARE_VER) runs the service again."
    else
      set_qpkg_field Enable FALSE
      warn_log "[$PREFIX] $QPKG_DISPLAY_NAME is installed but its service did not start, so it is disabled (see /var/log/sipa/sipa.log)."
    fi
  fi
  set_progress 3
}

main "$@"
