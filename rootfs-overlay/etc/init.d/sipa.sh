#!/bin/sh
# Secure IP Access in a firmware image: the runtime lives in /usr/local/sipa (read-only image), the store on
# the flash config partition (its path is "dataDir" in /usr/local/sipa/etc/sipa.json). The service logic is
# the QPKG's own service script; standalone mode skips App Center's Enable flag and registers the panel.
# One service, one owner: once App Center has installed the QPKG (qpkg.conf's Install_Path is not this copy),
# the package owns the service and every verb goes to its service script; this copy runs only while the
# package's volume is not there yet, to keep enforcing until App Center starts the package (qpkg/README.md,
# "Firmware and App Center").
SIPA_STANDALONE=1
SIPA_ROOT=@OVERLAY_ROOT@
export SIPA_STANDALONE SIPA_ROOT
qpkg_conf=/etc/config/qpkg.conf
qpkg_root=$(/sbin/getcfg SecureIPAccess Install_Path -f "$qpkg_conf" 2>/dev/null)
if [ -n "$qpkg_root" ] && [ "$qpkg_root" != "$SIPA_ROOT" ]; then
  if [ -f "$qpkg_root/sipa.sh" ]; then
    unset SIPA_STANDALONE SIPA_ROOT
    exec /bin/sh "$qpkg_root/sipa.sh" "$@"
  fi
  if [ "${1:-}" = start ]; then
    # Bridge only for a package App Center will start, and not past its version: a newer daemon could migrate
    # the store beyond what the package reads.
    enabled=$(/sbin/getcfg SecureIPAccess Enable -u -d FALSE -f "$qpkg_conf")
    theirs=$(/sbin/getcfg SecureIPAccess Version -f "$qpkg_conf")
    ours=$(/sbin/getcfg "" Version -f "$SIPA_ROOT/etc/panel.conf")
    newer=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { n = split(a, x, "."); m = split(b, y, "."); if (m > n) n = m
      for (i = 1; i <= n; i++) { if (x[i] + 0 > y[i] + 0) { print 1; exit } if (x[i] + 0 < y[i] + 0) exit } }')
    if [ "$enabled" != TRUE ] || [ -n "$newer" ]; then
      echo "SecureIPAccess: the App Center package at $qpkg_root owns the service and is not there yet; App Center starts it"
      exit 0
    fi
    echo "SecureIPAccess: the App Center package at $qpkg_root is not there yet (its volume); the firmware's copy enforces until it starts"
  fi
fi
exec /bin/sh "$SIPA_ROOT/sipa.sh" "$@"
