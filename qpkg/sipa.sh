#!/bin/sh
# Secure IP Access service script: start | stop | restart | status | remove.
# As a QPKG it is QPKG_SERVICE_PROGRAM (App Center calls it, /etc/init.d/sipa.sh links to it); in a firmware
# image /etc/init.d/sipa.sh sets SIPA_STANDALONE=1 and SIPA_ROOT and runs this same file.
# One daemon per NAS, whichever copy runs it: start replaces a daemon of another copy (the firmware's, when the
# QPKG takes over; the QPKG's, when the firmware's copy takes back), and the removal of a QPKG on a NAS whose
# firmware carries the module hands the service back to that copy (qpkg/README.md, "Firmware and App Center").
QPKG_NAME=SecureIPAccess
QPKG_CONF=/etc/config/qpkg.conf
FIRMWARE_ROOT=${SIPA_FIRMWARE_ROOT:-/usr/local/sipa}   # = SIPA_OVERLAY_ROOT in scripts/packaging/targets.sh

if [ "${SIPA_STANDALONE:-0}" = 1 ]; then
  QPKG_ROOT=${SIPA_ROOT:-/usr/local/sipa}
else
  QPKG_ROOT=$(/sbin/getcfg "$QPKG_NAME" Install_Path -f "$QPKG_CONF")
fi
if [ -z "$QPKG_ROOT" ] || [ ! -d "$QPKG_ROOT" ]; then
  echo "$QPKG_NAME: not installed (no Install_Path in $QPKG_CONF)" >&2
  exit 1
fi
export QNAP_QPKG="$QPKG_NAME"

SIPA="$QPKG_ROOT/bin/sipa"
CONFIG=${SIPA_CONFIG:-$QPKG_ROOT/etc/sipa.json}
RUN_DIR=/var/run/sipa
PID_FILE=$RUN_DIR/service.pid      # the daemon may keep its own sipa.pid beside it
LOG_DIR=/var/log/sipa             # RAM disk: the daemon's chatter never wakes a disk; events go to the QTS log
LOG_FILE=$LOG_DIR/sipa.log
LOG_MAX=${SIPA_LOG_MAX:-262144}   # bytes per file; sipa.log.1 and sipa.log.2 are kept
STOP_WAIT=${SIPA_STOP_WAIT:-30}   # seconds between SIGTERM and SIGKILL; below QPKG_TIMEOUT's stop value
START_WAIT=${SIPA_START_WAIT:-45} # seconds for the daemon to answer on its socket; below QPKG_TIMEOUT's start value
WEB_LINK=/home/httpd/cgi-bin/qpkg/$QPKG_NAME

rotate_log() {
  [ -f "$LOG_FILE" ] || return 0
  [ "$(wc -c < "$LOG_FILE")" -ge "$LOG_MAX" ] || return 0
  [ -f "$LOG_FILE.1" ] && mv -f "$LOG_FILE.1" "$LOG_FILE.2"
  mv -f "$LOG_FILE" "$LOG_FILE.1"
}

# One line to the service log (and the QTS event log for level 0 info, 1 warning, 2 error).
event() {
  level=$1; shift
  mkdir -p "$LOG_DIR"
  printf '%s sipa.sh: %s\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$*" >> "$LOG_FILE"
  [ "$level" -ge 1 ] && echo "$QPKG_NAME: $*" >&2 || echo "$QPKG_NAME: $*"
  if [ -x /sbin/log_tool ]; then
    /sbin/log_tool -t"$level" -uSystem -p127.0.0.1 -mlocalhost -a "[Secure IP Access] $*" >/dev/null 2>&1
  fi
  return 0
}

# Copies the daemon's stdout+stderr into the log, rotating by size while it runs.
log_pump() {
  size=$(wc -c < "$LOG_FILE" 2>/dev/null || echo 0)
  while IFS= read -r line; do
    printf '%s\n' "$line" >> "$LOG_FILE"
    size=$((size + ${#line} + 1))
    if [ "$size" -ge "$LOG_MAX" ]; then rotate_log; size=0; fi
  done
}

# The install root of the copy a daemon runs from (bin/sipa execs node with <root>/app/dist/module/cli/main.js).
daemon_root() {
  tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | sed -n 's|/app/dist/module/cli/main\.js$||p' | head -n 1
}
own_root() { (cd "$QPKG_ROOT" && pwd -P); }

last_lines() { tail -n 5 "$LOG_FILE" 2>/dev/null | tr '\n' ' '; }

config_value() {  # first "key": "string" of the config (the template keeps one key per line)
  sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" "$CONFIG" 2>/dev/null | head -n 1
}

daemon_pid() {  # the running daemon's pid, or nothing (a stale pid file or a reused pid does not count)
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE" 2>/dev/null)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'cli/main.js'; then
    return 1
  fi
  echo "$pid"
}

# The web tree is rebuilt at boot: the panel link is made again on every start.
link_web() {
  if [ -d "${WEB_LINK%/*}" ]; then
    ln -sfn "$QPKG_ROOT/web" "$WEB_LINK"
  else
    event 1 "${WEB_LINK%/*} does not exist; the panel link was not made"
  fi
}

# Firmware images: register the panel with QTS (same keys as a QPKG install) unless already there.
register_standalone() {
  [ "${SIPA_STANDALONE:-0}" = 1 ] && [ -f "$QPKG_ROOT/etc/panel.conf" ] || return 0
  [ -n "$(/sbin/getcfg "$QPKG_NAME" Name -f "$QPKG_CONF")" ] && return 0
  while IFS='=' read -r key value; do
    key=$(echo "$key" | tr -d ' '); value=$(echo "$value" | sed 's/^ *//; s/ *$//')
    case "$key" in ''|'#'*) continue ;; esac
    /sbin/setcfg "$QPKG_NAME" "$key" "$value" -f "$QPKG_CONF"
  done < "$QPKG_ROOT/etc/panel.conf"
}

# The store lives on the flash config partition; QTS mounts it on demand.
prepare_data_dir() {
  data_dir=$(config_value dataDir)
  [ -n "$data_dir" ] || { event 2 "no \"dataDir\" in $CONFIG"; return 1; }
  case "$data_dir" in
    /mnt/boot_config/*)
      if [ -r /proc/mounts ] && ! grep -q ' /mnt/boot_config ' /proc/mounts; then
        [ -x /etc/init.d/init_disk.sh ] && /etc/init.d/init_disk.sh mount_flash_config >/dev/null 2>&1
        grep -q ' /mnt/boot_config ' /proc/mounts ||
          event 1 "the flash config partition is not mounted at /mnt/boot_config; the store in $data_dir will not survive a reboot"
      fi ;;
  esac
  # The daemon makes the folder itself (0700, with the marker uninstall looks for) after checking that no user
  # but root can change anything on the way; a folder the config merely names is never chmod-ed or taken over.
  return 0
}

# The run dir: made here (the service's pid file goes in first) 0700 and marked as the package's own.
prepare_run_dir() {
  [ -d "$RUN_DIR" ] && return 0
  mkdir -m 700 "$RUN_DIR" && (cd "$RUN_DIR" && pwd -P) > "$RUN_DIR/.sipa-owned"
}

start() {
  if [ "${SIPA_STANDALONE:-0}" != 1 ]; then
    enabled=$(/sbin/getcfg "$QPKG_NAME" Enable -u -d FALSE -f "$QPKG_CONF")
    if [ "$enabled" != TRUE ]; then
      echo "$QPKG_NAME is disabled in App Center; not starting" >&2
      return 1
    fi
  fi
  register_standalone
  link_web
  if pid=$(daemon_pid); then
    other=$(daemon_root "$pid")
    if [ -z "$other" ] || [ "$other" = "$(own_root)" ]; then echo "$QPKG_NAME: already running (pid $pid)"; return 0; fi
    # Stopping leaves the rules and sets in the kernel: enforcement carries on while this copy starts.
    event 0 "taking over from the daemon of $other (pid $pid)"
    stop >/dev/null
  fi
  [ -f "$CONFIG" ] || { event 2 "cannot start: config file $CONFIG is missing"; return 1; }
  prepare_data_dir || return 1
  prepare_run_dir || { event 2 "cannot create $RUN_DIR"; return 1; }
  mkdir -p "$LOG_DIR"
  rm -f "$PID_FILE"
  rotate_log
  # The inner sh writes its own pid and execs bin/sipa, which execs the loader: the pid is the daemon's.
  ( sh -c 'echo $$ > "$1"; shift; exec "$@"' sipa "$PID_FILE" "$SIPA" daemon --config "$CONFIG" 2>&1 </dev/null |
      log_pump ) >/dev/null 2>&1 &
  # Started means answering: the daemon opens its socket last, once the store, the kernel and the API are up.
  sock="$(config_value runDir)"; sock="${sock:-$RUN_DIR}/sipa.sock"
  i=0
  while [ $i -lt "$START_WAIT" ]; do
    sleep 1; i=$((i + 1))
    if ! pid=$(daemon_pid); then
      rm -f "$PID_FILE"
      event 2 "the daemon exited at start; last lines of $LOG_FILE: $(last_lines)"
      return 1
    fi
    if [ -S "$sock" ] && "$SIPA" status --config "$CONFIG" >/dev/null 2>&1; then
      event 0 "started (pid $pid)"
      return 0
    fi
  done
  event 2 "the daemon (pid $pid) did not answer on $sock within ${START_WAIT} s; stopping it. Last lines of $LOG_FILE: $(last_lines)"
  stop >/dev/null
  return 1
}

stop() {
  if ! pid=$(daemon_pid); then
    rm -f "$PID_FILE"
    echo "$QPKG_NAME: not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt "$STOP_WAIT" ]; do sleep 1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    event 1 "the daemon (pid $pid) did not exit ${STOP_WAIT}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    sleep 1
  fi
  rm -f "$PID_FILE"
  event 0 "stopped"
}

status() {
  if pid=$(daemon_pid); then echo "$QPKG_NAME is running (pid $pid)"; return 0; fi
  echo "$QPKG_NAME is stopped"
  return 3
}

# App Center's removal (.uninstall.sh runs stop, then remove, before the files go): undo what the service did to
# the system. An upgrade never calls this, so it keeps the store and the config.
# Removes a folder only when the package made it: it holds the marker .sipa-owned, a regular file of root that
# names this very folder (its real path), as the daemon and prepare_run_dir write it. Never a path with . or ..
# in it, never through a link.
remove_own_dir() {
  d=$1
  case "$d" in /?*) ;; *) return 1 ;; esac
  case "$d/" in */../*|*/./*|*//*) return 1 ;; esac
  [ -d "$d" ] && [ ! -L "$d" ] || return 1
  m="$d/.sipa-owned"
  [ -f "$m" ] && [ ! -L "$m" ] || return 1
  # shellcheck disable=SC2012 # one named file, so no name to mangle: ls -ln gives its owner's uid
  [ "$(ls -ln "$m" | awk '{ print $3 }')" = 0 ] || return 1
  [ "$(cat "$m")" = "$(cd "$d" && pwd -P)" ] || return 1
  rm -rf "$d"
}

# The firmware carries the module too: removing the QPKG gives the service back to the firmware's copy instead of
# ending it. The rules, sets and store stay (the same dataDir: the QPKG took the firmware's config over), and that
# copy starts at once.
firmware_copy() {
  [ "${SIPA_STANDALONE:-0}" != 1 ] && [ -f "$FIRMWARE_ROOT/sipa.sh" ] && [ -f "$FIRMWARE_ROOT/etc/panel.conf" ] &&
    [ "$(own_root)" != "$(cd "$FIRMWARE_ROOT" && pwd -P)" ]
}
hand_back() {
  version=$(/sbin/getcfg "" Version -f "$FIRMWARE_ROOT/etc/panel.conf")
  event 0 "the firmware's copy ($version, $FIRMWARE_ROOT) takes the service back; its rules, sets and store stay"
  # That copy gets its own full start wait, whatever this one was given.
  if ! (unset SIPA_START_WAIT; SIPA_STANDALONE=1 SIPA_ROOT=$FIRMWARE_ROOT /bin/sh "$FIRMWARE_ROOT/sipa.sh" start); then
    event 2 "the firmware's copy did not start; the rules and sets stay in the kernel until a reboot starts it"
    return 1
  fi
}

remove() {
  if [ "${SIPA_STANDALONE:-0}" = 1 ]; then
    echo "$QPKG_NAME: the firmware's copy is part of the image; there is nothing to remove" >&2
    return 1
  fi
  if firmware_copy; then hand_back; return; fi
  data_dir=$(config_value dataDir)
  if "$SIPA" uninstall-cleanup --config "$CONFIG"; then
    event 0 "removed its firewall rules, sets and store."
  else
    event 1 "sipa uninstall-cleanup failed or does not exist (exit $?); firewall rules or sets may remain until reboot."
  fi
  # The fallback for when uninstall-cleanup could not run or stopped at its kernel part, under its rule: only a
  # folder the package made goes.
  if [ -n "$data_dir" ] && [ -e "$data_dir" ] && ! remove_own_dir "$data_dir"; then
    event 1 "not removing $data_dir: the package did not make it (no .sipa-owned marker naming it)"
  fi
  rm -f "$WEB_LINK"
}

case "${1:-}" in
  start)   start ;;
  stop)    stop ;;
  restart) stop; start ;;
  status)  status ;;
  remove)  remove ;;
  *) echo "usage: $0 {start|stop|restart|status|remove}" >&2; exit 64 ;;
esac
