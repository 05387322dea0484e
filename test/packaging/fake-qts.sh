#!/usr/bin/env bash
# A fake QTS root for the package tests: no C library at all — a static busybox, shims for getcfg/setcfg/
# log_tool, /etc/platform.conf, the config files a QPKG reads, a share volume and the dirs App Center has.
#   fake-qts.sh create ROOT FOLDER     make ROOT for a package of QNAP arch FOLDER (x86_64 arm_64 arm-x41 arm-x31)
#   fake-qts.sh run ROOT FOLDER CMD    run CMD with /bin/sh inside ROOT, in fresh network/pid/mount namespaces
#                                      (nothing started inside outlives it; the host's firewall is out of reach).
#                                      FAKE_NETNS=/proc/PID/ns/net: join that network namespace instead of a
#                                      fresh one (the test makes and owns it, and looks into it from outside).
#                                      The loopback interface is brought up first, as on a NAS.
# The NAS's iptables: QTS has the legacy iptables under its plain names. Here /sbin/iptables-save,
# iptables-restore, ip6tables-save and ip6tables-restore are wrappers around the build host's
# xtables-legacy-multi, run through its own loader from /opt/qts-iptables (so /lib stays empty: nothing of
# the package can pick up a C library from the fake NAS by accident). x86_64 programs: under qemu-user they
# run natively, like busybox.
# ARM folders: busybox stays x86_64 (it is the NAS's shell here), /bin/uname reports the NAS's CPU, and the
# bundled loader is run through /usr/bin/qemu-*-static (SIPA_EMULATOR) because binfmt_misc may be absent.
set -euo pipefail
cmd=$1 root=$2 folder=$3
case "$folder" in
  x86_64)  machine=x86_64;  platform=X86_64_GENERIC; qemu= ;;
  arm_64)  machine=aarch64; platform=ARM_AL_324;     qemu="qemu-aarch64-static" ;;
  arm-x41) machine=armv7l;  platform=ARM_AL_ALPINE;  qemu="qemu-arm-static" ;;
  arm-x31) machine=armv7l;  platform=ARM_MS_ARMADA;  qemu="qemu-arm-static" ;;
  *) echo "unknown folder $folder" >&2; exit 2 ;;
esac
[ -n "${FAKE_PLATFORM:-}" ] && platform=$FAKE_PLATFORM

create() {
  local bb
  bb=$(command -v busybox || echo /bin/busybox)
  file -L "$bb" | grep -q 'statically linked' || { echo "busybox at $bb is not static (apt-get install busybox-static)" >&2; exit 1; }
  mkdir -p "$root"/{bin,sbin,usr/bin,dev,proc,run,tmp,var/log,var/run,etc/init.d,etc/rcS.d,etc/rcK.d,etc/config,etc/default_config}
  mkdir -p "$root"/{home/httpd/cgi-bin/qpkg,home/httpd/RSS/images,mnt/boot_config,share/CACHEDEV1_DATA/Public,share/CACHEDEV1_DATA/.qpkg}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  local a
  for a in $("$bb" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
  mknod -m 666 "$root/dev/null" c 1 3; mknod -m 666 "$root/dev/zero" c 1 5
  mknod -m 666 "$root/dev/random" c 1 8; mknod -m 666 "$root/dev/urandom" c 1 9

  # getcfg SECTION KEY [-f FILE] [-d DEFAULT] [-u]: ini lookup ("" = keys before the first section).
  cat > "$root/sbin/getcfg" <<'SH'
#!/bin/sh
sec=$1 key=$2; shift 2; file=/etc/config/uLinux.conf def= up=
while [ $# -gt 0 ]; do case "$1" in -f) file=$2; shift ;; -d) def=$2; shift ;; -u) up=1 ;; esac; shift; done
v=$(awk -v s="$sec" -v k="$key" '
  /^[ \t]*\[/ { cur = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", cur); next }
  { i = index($0, "="); if (!i) next; kk = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", kk)
    if (cur == s && tolower(kk) == tolower(k)) { vv = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", vv); print vv; exit } }' "$file" 2>/dev/null)
[ -n "$v" ] || { [ -n "$def" ] && v=$def; }
[ -n "$v" ] || exit 1
[ -n "$up" ] && v=$(echo "$v" | tr a-z A-Z)
echo "$v"
SH
  # setcfg SECTION KEY VALUE [-f FILE]: set or add, creating the section at the end.
  cat > "$root/sbin/setcfg" <<'SH'
#!/bin/sh
sec=$1 key=$2 val=$3; shift 3; file=/etc/config/uLinux.conf
while [ $# -gt 0 ]; do case "$1" in -f) file=$2; shift ;; esac; shift; done
[ -f "$file" ] || : > "$file"
awk -v s="$sec" -v k="$key" -v v="$val" '
  function emit() { if (insec && !done) { print k " = " v; done = 1 } }
  /^[ \t]*\[/ { emit(); cur = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", cur); insec = (cur == s); print; next }
  { i = index($0, "="); kk = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", kk)
    if (insec && i && kk == k && !done) { print k " = " v; done = 1; next } print }
  END { emit(); if (!done) { print "[" s "]"; print k " = " v } }' "$file" > "$file.setcfg.$$" && cat "$file.setcfg.$$" > "$file"
rm -f "$file.setcfg.$$"
SH
  qts_iptables
  cat > "$root/sbin/log_tool" <<'SH'
#!/bin/sh
t=0 msg=
while [ $# -gt 0 ]; do case "$1" in -t*) t=${1#-t} ;; -a) msg=$2; shift ;; esac; shift; done
echo "level=$t $msg" >> /var/log/event.log
SH
  chmod 755 "$root/sbin/"*
  printf 'Platform = %s\n' "$platform" > "$root/etc/platform.conf"
  printf '[System]\nVersion = 5.2.0\nBuild Number = 20240802\n' > "$root/etc/config/uLinux.conf"
  cp "$root/etc/config/uLinux.conf" "$root/etc/default_config/uLinux.conf"
  printf '[Public]\npath = /share/CACHEDEV1_DATA/Public\n' > "$root/etc/config/smb.conf"
  printf '[QuFirewall]\nName = QuFirewall\nVersion = 2.6.1\nEnable = TRUE\n' > "$root/etc/config/qpkg.conf"
  : > "$root/var/log/event.log"; echo 3 > "$root/tmp/update_process"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"

  if [ -n "$qemu" ]; then
    cp "/usr/bin/$qemu" "$root/usr/bin/$qemu"
    rm -f "$root/bin/uname"
    # shellcheck disable=SC2016 # the text of a script: its $1 and $@ are its own
    printf '#!/bin/busybox sh\n[ "$1" = -m ] && { echo %s; exit 0; }\nexec /bin/busybox uname "$@"\n' "$machine" > "$root/bin/uname"
    chmod 755 "$root/bin/uname"
  fi
}

qts_iptables() {
  local multi=/usr/sbin/xtables-legacy-multi syslib=/lib/x86_64-linux-gnu xt=/usr/lib/x86_64-linux-gnu/xtables
  local d="$root/opt/qts-iptables" f n changed=1 t
  { [ -x "$multi" ] && [ -d "$xt" ]; } || { echo "$multi missing (apt-get install iptables)" >&2; exit 1; }
  mkdir -p "$d/bin" "$d/lib" "$d/xtables"
  cp "$multi" "$d/bin/"; cp "$xt"/*.so "$d/xtables/"; cp -L "$syslib/ld-linux-x86-64.so.2" "$d/lib/"
  while [ $changed = 1 ]; do
    changed=0
    for f in "$d"/bin/* "$d"/lib/* "$d"/xtables/*; do
      for n in $(readelf -dW "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$d/lib/$n" ] && continue
        cp -L "$syslib/$n" "$d/lib/$n"; changed=1
      done
    done
  done
  for t in iptables-save iptables-restore ip6tables-save ip6tables-restore; do
    printf '#!/bin/sh\nXTABLES_LIBDIR=/opt/qts-iptables/xtables exec /opt/qts-iptables/lib/ld-linux-x86-64.so.2 --inhibit-cache --library-path /opt/qts-iptables/lib --argv0 %s /opt/qts-iptables/bin/xtables-legacy-multi "$@"\n' "$t" > "$root/sbin/$t"
  done
}

run() {
  local emu=
  [ -n "$qemu" ] && emu="/usr/bin/$qemu"
  local net=(unshare --net)
  [ -n "${FAKE_NETNS:-}" ] && net=(nsenter --net="$FAKE_NETNS" unshare)
  "${net[@]}" --pid --fork --mount --mount-proc="$root/proc" \
    env -i PATH=/bin:/sbin:/usr/bin HOME=/ TERM=dumb SIPA_EMULATOR="$emu" SIPA_STOP_WAIT="${SIPA_STOP_WAIT:-10}" \
    chroot "$root" /bin/sh -c "/bin/ip link set lo up 2>/dev/null; $1"
}

case "$cmd" in
  create) create ;;
  run) run "$4" ;;
  *) echo "usage: $0 create|run ROOT FOLDER [CMD]" >&2; exit 2 ;;
esac
