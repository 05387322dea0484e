#!/bin/sh
# sipa: the Secure IP Access CLI, run on the Node.js and C libraries shipped beside it.
# The NAS's own C library (glibc 2.21 on QTS 5.2) is too old for Node (2.28), so node is started through the
# bundled dynamic loader with the bundled library directory; nothing of the NAS's user space is used.
# SIPA_EMULATOR (tests only): a qemu-user binary to run the loader through when binfmt_misc is absent.
self=$(readlink -f "$0" 2>/dev/null) || self=$0
SIPA_ROOT=${self%/bin/*}
export SIPA_ROOT
# Where the CLI finds the native helper (module/kernel/native.ts loads it from an explicit path).
export SIPA_NATIVE_LIB="$SIPA_ROOT/app/native/build/@CPU@/libsipa.so"
main="$SIPA_ROOT/app/dist/module/cli/main.js"
if [ ! -f "$main" ]; then
  echo "sipa: $main is missing: the package is damaged; install it again from App Center" >&2
  exit 127
fi
# The daemon lives for months on a box with little memory, waiting on sockets: V8 without its optimizing
# compilers (--lite-mode), a small young generation and two malloc arenas keep it small (qpkg/README.md "Memory";
# scripts/bench-service.ts daemon.rss-*). The CLI runs once and briefly: Node's defaults.
node_flags=
if [ "${1:-}" = daemon ]; then
  node_flags="--max-semi-space-size=1 --lite-mode"
  export MALLOC_ARENA_MAX=2
fi
# shellcheck disable=SC2086 # node_flags is a list of flags, split on purpose (sh has no arrays)
exec ${SIPA_EMULATOR:+"$SIPA_EMULATOR"} "$SIPA_ROOT/lib/@LOADER@" --inhibit-cache --library-path "$SIPA_ROOT/lib" \
  "$SIPA_ROOT/bin/node" $node_flags "$main" "$@"
