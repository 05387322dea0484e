#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (as root) to the point where `npm start`, `npm test` and `npm run bench`
# can run: Debian packages it lacks, npm packages, the native helper and the TypeScript build.
# Idempotent: a second run only checks and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# Debian packages: the kernel tools the product drives (legacy iptables as on QTS, ipset, conntrack, iproute2),
# compilers for the native helper (host + the NAS arches, clang for the fuzz target), qemu to run ARM tests,
# Chromium for the panel's browser tests, busybox for the package's fake-QTS check.
debs=(iptables ipset conntrack iproute2 make gcc libc6-dev clang llvm libclang-rt-14-dev
      gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
      qemu-user-static chromium busybox-static)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]} — run as root, or install them with apt-get"; exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# npm packages: reinstall when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci; builds sqlite3 from source, about a minute)"
  npm ci --no-audit --no-fund >/dev/null
else
  say "npm packages present"
fi

say "building the native helper for this machine (native/build/$(uname -m))"
make -s -C native host
say "compiling TypeScript (tsc)"
npx tsc -p tsconfig.json
say "bundling the panel (esbuild)"
node scripts/build-panel.mjs >/dev/null
say "ready"
