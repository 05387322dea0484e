#!/usr/bin/env bash
# Brings a fresh Debian 12 machine (as root) to the point where `npm start`, `npm test` and `npm run bench`
# can run: Debian packages it lacks, the Node.js the packages ship (from the npm registry, into build/node),
# npm packages built for it, the native helper and the TypeScript build. Tests, bench and demo run on that Node
# (scripts/node-env.sh), not on the machine's own, so that what is tested is what ships.
# Idempotent: a second run only checks and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
SIPA_STEP=setup
# shellcheck source=packaging/targets.sh
. scripts/packaging/targets.sh
# shellcheck source=packaging/lib.sh
. scripts/packaging/lib.sh

# Debian packages: the kernel tools the product drives (legacy iptables as on QTS, ipset, conntrack, iproute2),
# compilers for the native helper (host + the NAS arches, clang for the fuzz target), qemu to run ARM tests,
# Chromium for the panel's browser tests, busybox for the package's fake-QTS check.
debs=(iptables ipset conntrack iproute2 make gcc libc6-dev clang llvm libclang-rt-14-dev
      gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
      qemu-user-static chromium busybox-static shellcheck)
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

# The Node.js of this machine's row in the targets table (x86_64 here), as the packages carry it: the npm
# registry's node-linux-<arch> package (the tarball is shared with the package builds, build/cache/npm-tgz).
sipa_target "$(uname -m)"
node_version=${T_NODE_PKG##*@}
node_dir=build/node/$node_version-$T_CPU
if [ ! -x "$node_dir/bin/node" ]; then
  say "installing Node.js $node_version from the npm registry (${T_NODE_PKG%@*}) into $node_dir"
  tgz=$(npm_tgz "$T_NODE_PKG")
  rm -rf "$node_dir.tmp"; mkdir -p "$node_dir.tmp"
  tar -xzf "$tgz" -C "$node_dir.tmp" --strip-components=1 package/bin/node package/include package/LICENSE
  "$node_dir.tmp/bin/node" -e 0 || die "$node_dir.tmp/bin/node does not run on this machine"
  mv "$node_dir.tmp" "$node_dir"
else
  say "Node.js $node_version present ($node_dir)"
fi
ln -sfn "$node_version-$T_CPU" build/node/current
# shellcheck source=node-env.sh
. scripts/node-env.sh

# npm packages: reinstall when the lock file changed since the last install, or when they were built for another
# Node. Addons compile against the shipped Node's own headers (its package carries include/node; node-gyp
# downloads nothing), sqlite3 from source rather than a prebuilt binary from GitHub (prebuild-install takes
# its settings from variables named prebuild-install_*, hence env; npm warns of npm_config_build_from_source).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
   [ "$(cat node_modules/.sipa-node 2>/dev/null)" != "$node_version" ]; then
  say "installing npm packages for Node.js $node_version (npm ci; builds sqlite3 from source, about a minute)"
  env npm_config_nodedir="$REPO/$node_dir" prebuild-install_buildFromSource=true npm ci --no-audit --no-fund >/dev/null
  echo "$node_version" > node_modules/.sipa-node
else
  say "npm packages present (built for Node.js $node_version)"
fi

say "building the native helper for this machine (native/build/$(uname -m))"
make -s -C native host
say "compiling TypeScript (tsc)"
# From nothing: tsc never removes what it wrote, so a test whose source was deleted would still run from dist.
rm -rf dist/module dist/scripts dist/test
npx tsc -p tsconfig.json
say "bundling the panel (esbuild)"
node scripts/build-panel.mjs >/dev/null
say "ready (Node.js $(node --version) from $node_dir)"
