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
