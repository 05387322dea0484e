# shellcheck shell=bash
# The QPKG file format's two computed parts (see qpkg/README.md "The file"). Sourced by build-qpkg.sh.

# The 100-byte tail: MODEL(10) | RESERVED(40) | FW_VERSION(10) | NAME(20) | VERSION(10) | "QNAPQPKG  ".
# QDK leaves MODEL, RESERVED and FW_VERSION blank; the check digits go into RESERVED afterwards.
qpkg_tail() {
  local name=$1 version=$2
  [ ${#name} -le 20 ] || die "QPKG_NAME '$name' is longer than 20 characters"
  [ ${#version} -le 10 ] || die "QPKG_VER '$version' is longer than 10 characters"
  printf '%-10s%-40s%-10s%-20s%-10s%s' '' '' '' "$name" "$version" 'QNAPQPKG  '
}

# The check digits for a file of $1 bytes: the first 10 digits of size × 3589 + 1000000000
# (a real QDK-built file of 45,591 bytes carries 1163626099).
qpkg_check_digits() {
  local v=$(( $1 * 3589 + 1000000000 ))
  printf '%s' "${v:0:10}"
}

# Write the check digits of file $1 at offset size − 60 (the last 10 bytes of RESERVED).
qpkg_seal() {
  local f=$1 size
  size=$(stat -c %s "$f")
  qpkg_check_digits "$size" | dd of="$f" bs=1 seek=$((size - 60)) conv=notrunc status=none
}

# Template → stdout with the product constants, $VERSION and $T_* of the current target (sipa_target).
qpkg_subst() {
  sed -e "s|@NAME@|$SIPA_QPKG_NAME|g" -e "s|@DISPLAY_NAME@|$SIPA_DISPLAY_NAME|g" -e "s|@VERSION@|$VERSION|g" \
      -e "s|@AUTHOR@|$SIPA_AUTHOR|g" -e "s|@SERVICE@|$SIPA_SERVICE|g" -e "s|@RC_NUM@|$SIPA_RC_NUM|g" \
      -e "s|@TIMEOUT@|$SIPA_TIMEOUT|g" -e "s|@FW_MIN@|$SIPA_FW_MIN|g" -e "s|@WEB_PORT@|$SIPA_WEB_PORT|g" \
      -e "s|@PROXY_PATH@|$SIPA_PROXY_PATH|g" -e "s|@FOLDER@|${T_FOLDER:-}|g" -e "s|@UNAME@|${T_UNAME:-}|g" \
      -e "s|@REJECT@|${T_REJECT:-}|g" -e "s|@FIRMWARE_ROOT@|$SIPA_OVERLAY_ROOT|g" "$1"
}
pad10() { printf '%-10s' "$1"; }

# qpkg_assemble FOLDER VERSION DATA WORKDIR OUT [built_info line...]
# [sh header][control.tar][DATA][tail], check digits sealed. DATA is a .tar.xz (QPKG_UNXZ: the unxz program for
# the control archive) or a .tar.gz; it is named data.tar.xz or data.tar.gz inside, as QDK's qinstall.sh expects. Uses $REPO/qpkg/{qinstall.sh,package_routines,
# qpkg.cfg.in,header.sh.in}, SOURCE_DATE_EPOCH; WORKDIR is scratch (created). Shared by build-qpkg.sh and
# repack-qpkg.sh, so a repacked file is laid out exactly as a built one.
qpkg_assemble() {
  local folder=$1 VERSION=$2 data=$3 c=$4 f=$5; shift 5
  sipa_target "$folder"
  [ ${#VERSION} -le 10 ] || die "QPKG_VER '$VERSION' is longer than 10 characters"
  rm -rf "$c"; mkdir -p "$c/in"
  cp "$REPO/qpkg/qinstall.sh" "$REPO/qpkg/package_routines" "$c/in/"
  local data_name
  case "$data" in
    *.tar.xz) data_name=data.tar.xz
              [ -x "${QPKG_UNXZ:-}" ] || die "$folder: an xz data archive needs QPKG_UNXZ (the unxz for the control archive)"
              cp "$QPKG_UNXZ" "$c/in/unxz" ;;
    *.tar.gz) data_name=data.tar.gz ;;
    *) die "$data: neither .tar.xz nor .tar.gz" ;;
  esac
  qpkg_subst "$REPO/qpkg/qpkg.cfg.in" > "$c/in/qpkg.cfg"
  {
    echo "time = $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d)"
    echo "version = $VERSION"
    echo "arch = $folder"
    echo "node = ${T_NODE_PKG##*@}"
    [ $# -eq 0 ] || printf '%s\n' "$@"
  } > "$c/in/built_info"
  chmod 644 "$c/in/"*; chmod 755 "$c/in/qinstall.sh"
  [ ! -f "$c/in/unxz" ] || chmod 755 "$c/in/unxz"
  det_tgz "$c/control.tar.gz" "$c/in"
  tar --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --format=gnu --mode=644 \
      -C "$c" -cf "$c/control.tar" control.tar.gz
  local ctrl_len data_len script_len
  ctrl_len=$(fsize "$c/control.tar")
  data_len=$(fsize "$data")

  # The header's numbers are padded to 10 characters, so its length does not depend on them.
  qpkg_subst "$REPO/qpkg/header.sh.in" | sed -e "s|@CTRL_LEN@|$(pad10 "$ctrl_len")|g" \
      -e "s|@DATA_LEN@|$(pad10 "$data_len")|g" -e "s|@DATA_NAME@|$data_name|g" -e "s|@SCRIPT_LEN@|@@@@@@@@@@|" > "$c/header"
  script_len=$(fsize "$c/header")
  sed -i "s|@@@@@@@@@@|$(pad10 "$script_len")|" "$c/header"
  [ "$(fsize "$c/header")" = "$script_len" ] || die "header length changed while filling it in"

  cat "$c/header" "$c/control.tar" "$data" > "$f.tmp"
  qpkg_tail "$SIPA_QPKG_NAME" "$VERSION" >> "$f.tmp"
  qpkg_seal "$f.tmp"
  mv "$f.tmp" "$f"
}

# qpkg_data_name FILE → the data archive's name as the file's own header states it (data.tar.xz | data.tar.gz).
qpkg_data_name() {
  # shellcheck disable=SC2016 # $_EXTRACT_DIR is text in the header, not a variable here
  head -c 16384 "$1" | sed -n '1,/^exit 1$/p' | sed -n 's/.*| \/bin\/dd of="\$_EXTRACT_DIR\/\(data\.tar\.[a-z]*\)".*/\1/p'
}

# qpkg_lengths FILE → "script_len ctrl_len data_len" as the file's own header states them.
qpkg_lengths() {
  local head s c d
  head=$(head -c 16384 "$1" | sed -n '1,/^exit 1$/p')
  s=$(printf '%s\n' "$head" | sed -n 's/^script_len=\([0-9]*\).*/\1/p')
  c=$(printf '%s\n' "$head" | sed -n 's/.*head -c \([0-9]*\) *| tar -xO |.*/\1/p')
  d=$(printf '%s\n' "$head" | sed -n 's/.*head -c \([0-9]*\) *| \/bin\/dd of=.*/\1/p')
  { [ -n "$s" ] && [ -n "$c" ] && [ -n "$d" ]; } || die "$1: cannot read the lengths from its header"
  echo "$s $c $d"
}
