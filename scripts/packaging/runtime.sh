# shellcheck shell=bash
# Builds the self-contained runtime tree of one CPU (x86_64 | aarch64 | armhf):
#   bin/node bin/sipa   lib/<loader + C libraries>   app/{package.json,dist/module,dist/panel,node_modules,native}
#   web/ (index.html + panel -> ../app/dist/panel)
# Sourced after targets.sh and lib.sh; expects $REPO; start_build (below) sets $WORK and SOURCE_DATE_EPOCH.

# What every build starts with: a scratch dir WORK under build/work that goes on exit, the Debian packages the
# cross builds need, and SOURCE_DATE_EPOCH. $1 names the build (the scratch dir's prefix).
start_build() {
  mkdir -p "$REPO/build/work"
  WORK=$(mktemp -d "$REPO/build/work/$1.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  trap 'exit 130' INT TERM
  ensure_debs binutils gcc g++ make python3 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu gcc-arm-linux-gnueabihf \
    g++-arm-linux-gnueabihf libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross libc6-armhf-cross \
    libstdc++6-armhf-cross libgcc-s1-armhf-cross
  sipa_source_date_epoch
}

# The compiled module (dist/module without tests) and the production node_modules, shared by all CPUs.
prepare_common() {
  say "compiling module/ (tsc with the project tsconfig, module/ only, into the build's own outDir)"
  rm -rf "$WORK/tsc"
  ( cd "$REPO" && npx --no-install tsc -p scripts/packaging/tsconfig.module.json --outDir "$WORK/tsc" --sourceMap false ) \
    || die "tsc failed: fix the type errors above (npx tsc -p tsconfig.json)"
  if [ ! -f "$WORK/tsc/module/cli/main.js" ]; then
    warn "dist/module/cli/main.js is missing (the CLI has not landed): bin/sipa will have nothing to run"
  fi

  # The panel (esbuild bundle + host page + manifest + icon), CPU-independent; the daemon serves it from
  # dist/panel beside dist/module (module/api/static.ts DEFAULT_PANEL_DIR) when api.panelDir is null.
  say "bundling the panel (node scripts/build-panel.mjs)"
  ( cd "$REPO" && node scripts/build-panel.mjs "$WORK/panel" ) | sed -n 's/^\[build-panel\] total/[panel] total/p' \
    || die "the panel build failed (node scripts/build-panel.mjs)"
  local f
  for f in index.html sipa-panel.js host.js manifest.json; do
    [ -s "$WORK/panel/$f" ] || die "the panel build left no $f"
  done

  # Production dependencies, as the lock file pins them, cached per lock file so a second build is offline.
  local lockhash cached
  lockhash=$( (cat "$REPO/package.json" "$REPO/package-lock.json"; cat "$REPO/scripts/packaging/prune-modules.cjs") | sha256sum | cut -c1-16)
  cached="$CACHE/modules-$lockhash.tar"
  rm -rf "$WORK/modules"; mkdir -p "$WORK/modules"
  if [ ! -s "$cached" ]; then
    say "installing production npm packages (npm ci --omit=dev, scripts off; cache: build/cache/npm)"
    mkdir -p "$WORK/npm-stage"
    cp "$REPO/package.json" "$REPO/package-lock.json" "$WORK/npm-stage/"
    ( cd "$WORK/npm-stage" && npm ci --omit=dev --omit=optional --omit=peer --ignore-scripts --no-audit --no-fund \
        --loglevel=error --cache "$CACHE/npm" --prefer-offline >/dev/null ) || die "npm ci failed"
    # sqlite3's sources and node-addon-api are kept aside for the cross-compiles before pruning.
    mkdir -p "$WORK/modules/src"
    cp -a "$WORK/npm-stage/node_modules/sqlite3" "$WORK/npm-stage/node_modules/node-addon-api" "$WORK/modules/src/"
    node "$REPO/scripts/packaging/prune-modules.cjs" "$WORK/npm-stage" >/dev/null
    mkdir -p "$WORK/modules/app"
    mv "$WORK/npm-stage/node_modules" "$WORK/modules/app/node_modules"
    rm -rf "$WORK/npm-stage"
    det_tar "$cached.tmp" "$WORK/modules" && mv "$cached.tmp" "$cached"
  else
    say "production npm packages from cache ($(basename "$cached"))"
    tar -xf "$cached" -C "$WORK/modules"
  fi
  # Within the kept packages, only the files the module can load (prune-files.cjs; the removed ones are listed
  # in $WORK/pruned-node_modules.txt, which the packaging test checks against a traced run).
  local pruned
  mkdir -p "$WORK/modules/app/dist"; cp -a "$WORK/tsc/module" "$WORK/modules/app/dist/module"
  pruned=$(node "$REPO/scripts/packaging/prune-files.cjs" "$REPO/node_modules/esbuild" "$WORK/modules/app" \
    "$WORK/pruned-node_modules.txt") || die "pruning node_modules failed (see above)"
  rm -rf "$WORK/modules/app/dist"
  say "node_modules: keeping what the module can load: $pruned"
}

# node_sqlite3.node cross-compiled for one CPU with node-gyp against that Node's own headers; cached.
build_sqlite() {
  local cpu=$1 nodedir=$2 out=$3
  sipa_target "$cpu"
  local ver gccver key cached dir
  ver=$(node -p "require('$WORK/modules/src/sqlite3/package.json').version")
  gccver=$("$T_TRIPLET-gcc" -dumpfullversion)
  key="sqlite3-$ver-${T_NODE_PKG##*@}-$cpu-gcc$gccver"
  cached="$CACHE/addons/$key.node"
  if [ ! -s "$cached" ]; then
    say "$cpu: compiling sqlite3 $ver with $T_TRIPLET-g++ (node-gyp, --nodedir from ${T_NODE_PKG%@*}; about a minute)"
    dir="$REPO/build/work/sqlite3-$cpu"          # a fixed path: nothing of the scratch dir's name ends up in the binary
    rm -rf "$dir"; mkdir -p "$dir/node_modules"
    cp -a "$WORK/modules/src/sqlite3" "$WORK/modules/src/node-addon-api" "$dir/node_modules/"
    local ldflags=""
    [ "$cpu" = aarch64 ] && ldflags="-Wl,-z,max-page-size=65536"
    ( cd "$dir/node_modules/sqlite3" && \
      CC="$T_TRIPLET-gcc" CXX="$T_TRIPLET-g++" LINK="$T_TRIPLET-g++" AR="$T_TRIPLET-ar" \
      CFLAGS="-ffile-prefix-map=$dir=." CXXFLAGS="-ffile-prefix-map=$dir=." LDFLAGS="$ldflags" \
      node "$REPO/node_modules/node-gyp/bin/node-gyp.js" rebuild --nodedir="$nodedir" --arch="$T_GYP_ARCH" \
        --jobs=2 >"$dir.log" 2>&1 ) || { tail -30 "$dir.log" >&2; die "$cpu: sqlite3 build failed (log: $dir.log)"; }
    mkdir -p "$CACHE/addons"
    "$T_TRIPLET-strip" --strip-unneeded -o "$cached.tmp" "$dir/node_modules/sqlite3/build/Release/node_sqlite3.node"
    mv "$cached.tmp" "$cached"
    rm -rf "$dir" "$dir.log"
  fi
  cp "$cached" "$out"
}

# unxz for the control archive: scripts/packaging/unxz.c linked statically with Debian's liblzma.a of that CPU
# (liblzma-dev:<arch> at the pinned version, fetched with apt-get download, never installed), so that it runs on
# QTS's user space, which may have no xz. Cached.
build_unxz() {
  local cpu=$1 out=$2 key cached deb dir ldflags=""
  sipa_target "$cpu"; sipa_cpu_facts "$cpu"
  key="unxz-$SIPA_LZMA_DEB-$cpu-gcc$("$T_TRIPLET-gcc" -dumpfullversion)-$(sha256sum "$REPO/scripts/packaging/unxz.c" | cut -c1-12)"
  cached="$CACHE/unxz/$key"
  if [ ! -s "$cached" ]; then
    mkdir -p "$CACHE/debs" "$CACHE/unxz"
    deb=$(ls "$CACHE/debs/liblzma-dev_${SIPA_LZMA_DEB//:/%3a}_$T_DEBARCH.deb" 2>/dev/null || true)
    if [ -z "$deb" ]; then
      ensure_foreign_arch "$T_DEBARCH"
      say "$cpu: fetching liblzma-dev:$T_DEBARCH=$SIPA_LZMA_DEB (apt-get download)"
      ( cd "$CACHE/debs" && apt-get download -q "liblzma-dev:$T_DEBARCH=$SIPA_LZMA_DEB" >/dev/null 2>&1 ) ||
        die "apt-get download liblzma-dev:$T_DEBARCH=$SIPA_LZMA_DEB failed (is the version still in Debian's archive?)"
      deb=$(ls "$CACHE/debs/liblzma-dev_"*"_$T_DEBARCH.deb")
    fi
    dir="$WORK/lzma-$cpu"; rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    [ "$cpu" = aarch64 ] && ldflags="-Wl,-z,max-page-size=65536"
    "$T_TRIPLET-gcc" -static -Os -s $ldflags -ffile-prefix-map="$REPO"=. -I "$dir/usr/include" \
      "$REPO/scripts/packaging/unxz.c" "$dir/usr/lib/$T_TRIPLET/liblzma.a" -o "$cached.tmp" || die "$cpu: building unxz failed"
    mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$out"; chmod 755 "$out"
}

# The native helper: native/build/<cpu>/libsipa.so from `make -C native ARCH=<cpu> lib`.
native_helper() {
  local cpu=$1 out=$2
  local so="$REPO/native/build/$cpu/libsipa.so"
  if [ ! -f "$so" ]; then
    say "$cpu: building the native helper (make -C native ARCH=$cpu lib)"
    make -s -C "$REPO/native" ARCH="$cpu" lib || die "$cpu: make -C native ARCH=$cpu lib failed"
  fi
  cp "$so" "$out"
}

# Copy the C libraries every ELF in $1 needs (transitively), plus the loader, from $T_SYSLIB into $1/lib.
bundle_libs() {
  local root=$1 cpu=$2
  sipa_cpu_facts "$cpu"
  mkdir -p "$root/lib"
  cp -L "$T_SYSLIB/$T_LOADER" "$root/lib/$T_LOADER"
  local changed=1 f n
  while [ $changed = 1 ]; do
    changed=0
    while IFS= read -r -d '' f; do
      for n in $(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -e "$root/lib/$n" ] && continue
        [ -e "$T_SYSLIB/$n" ] || die "$cpu: $(basename "$f") needs $n, not found in $T_SYSLIB"
        cp -L "$T_SYSLIB/$n" "$root/lib/$n"; changed=1
      done
    done < <(elf_files "$root")
  done
  chmod 755 "$root/lib/"*
}

# Node.js from the npm registry, unpacked once per build; its include/ doubles as the headers for node-gyp.
unpack_node() {
  local cpu=$1 nodeunpack="$WORK/node-$1" tgz
  sipa_target "$cpu"
  [ -x "$nodeunpack/package/bin/node" ] && return 0
  tgz=$(npm_tgz "$T_NODE_PKG")
  rm -rf "$nodeunpack"; mkdir -p "$nodeunpack"
  tar -xzf "$tgz" -C "$nodeunpack" package/bin/node package/include package/LICENSE
}

# Everything for the CPUs of the selected arch folders: common parts, the sqlite3 compiles side by side
# (the slow part of a first build), then each runtime tree into $WORK/rt/<cpu>. Prints the CPUs staged.
stage_all() {
  local cpus cpu pids=() p
  cpus=$(sipa_targets | awk '{ print $2 }' | sort -u)
  [ -n "$cpus" ] || die "no arch selected (SIPA_ARCHES='${SIPA_ARCHES:-}'; known: x86_64 arm_64 arm-x41 arm-x31)"
  prepare_common
  for cpu in $cpus; do
    unpack_node "$cpu"
    ( mkdir -p "$WORK/sq-$cpu" && build_sqlite "$cpu" "$WORK/node-$cpu/package" "$WORK/sq-$cpu/node_sqlite3.node" ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || die "a sqlite3 build failed (see above)"; done
  for cpu in $cpus; do
    sipa_target "$cpu"
    say "$cpu: staging the runtime (node ${T_NODE_PKG##*@}, C libraries with their loader, module, node_modules)"
    stage_runtime "$cpu" "$WORK/rt/$cpu"
  done
  # shellcheck disable=SC2034 # read by build-qpkg.sh, which sources this file
  STAGED_CPUS=$cpus
}

# Assemble the runtime of one CPU into $2 (created fresh).
stage_runtime() {
  local cpu=$1 out=$2
  sipa_target "$cpu"; sipa_cpu_facts "$cpu"
  local nodeunpack="$WORK/node-$cpu"
  rm -rf "$out"; mkdir -p "$out/bin" "$out/app/dist" "$out/app/native/build/$cpu" "$out/web" "$out/etc"
  unpack_node "$cpu"
  # Debug info and the static symbol table go (2.6 MB); .dynsym, which the addons link against, stays.
  "$T_TRIPLET-strip" --strip-all -o "$out/bin/node" "$nodeunpack/package/bin/node"
  cp "$nodeunpack/package/LICENSE" "$out/bin/node.LICENSE"

  # The module, without tests, maps or declarations.
  ( cd "$WORK/tsc" && find module -type f -name '*.js' ! -name '*.test.js' ! -path '*/test/*' -print0 ) |
    while IFS= read -r -d '' f; do mkdir -p "$out/app/dist/$(dirname "$f")"; cp "$WORK/tsc/$f" "$out/app/dist/$f"; done
  [ -d "$out/app/dist/module" ] || mkdir -p "$out/app/dist/module"
  # The JSON Schemas are read at run time from <package root>/module/schemas (config/config.ts, api/validate.ts).
  mkdir -p "$out/app/module/schemas"
  cp "$REPO"/module/schemas/*.json "$out/app/module/schemas/"
  node -e '
    const p = require(process.argv[1]);
    const out = { name: p.name, version: process.env.SIPA_VERSION || p.version, private: true, description: p.description, license: p.license };
    process.stdout.write(JSON.stringify(out, null, 2) + "\n");' "$REPO/package.json" > "$out/app/package.json"

  # Production node_modules + this CPU's native parts.
  cp -a "$WORK/modules/app/node_modules" "$out/app/node_modules"
  local nm="$out/app/node_modules" napi_dir
  case "$cpu" in x86_64) napi_dir=linux-x64 ;; aarch64) napi_dir=linux-arm64 ;; armhf) napi_dir=linux-arm ;; esac
  find "$nm/netlink/prebuilds" -mindepth 1 -maxdepth 1 ! -name "$napi_dir" -exec rm -rf {} +
  [ -f "$nm/netlink/prebuilds/$napi_dir/node.napi.node" ] || die "$cpu: netlink has no prebuild $napi_dir"
  local kdir="$nm/@koromix/${T_KOFFI_PKG#@koromix/}"; kdir=${kdir%@*}
  mkdir -p "$kdir"
  tar -xzf "$(npm_tgz "$T_KOFFI_PKG")" -C "$kdir" --strip-components=1
  rm -rf "$kdir"/musl_*
  mkdir -p "$nm/sqlite3/build/Release"
  build_sqlite "$cpu" "$nodeunpack/package" "$nm/sqlite3/build/Release/node_sqlite3.node"

  native_helper "$cpu" "$out/app/native/build/$cpu/libsipa.so"

  # The panel, served by the daemon (through the QTS proxy path) from app/dist/panel.
  cp -a "$WORK/panel" "$out/app/dist/panel"

  # The launcher, the web tree (linked at /home/httpd/cgi-bin/qpkg/<NAME> by sipa.sh: landing page, and
  # panel/ → the built panel with its manifest.json and icon), the default config.
  sed -e "s|@LOADER@|$T_LOADER|g" -e "s|@CPU@|$cpu|g" "$REPO/qpkg/sipa-launcher.sh" > "$out/bin/sipa"
  chmod 755 "$out/bin/sipa" "$out/bin/node"
  cp "$REPO/qpkg/web/"* "$out/web/"
  ln -s ../app/dist/panel "$out/web/panel"
  # The default config, shipped (QPKG_CONFIG names it; an install keeps the one already there).
  sed -e "s|@WEB_PORT@|$SIPA_WEB_PORT|g" -e "s|@PROXY_PATH@|$SIPA_PROXY_PATH|g" -e "s|@DATA_DIR@|$SIPA_DATA_DIR_FLASH|g" \
    "$REPO/rootfs-overlay/etc/sipa.json.in" > "$out/etc/sipa.json"
  node -e "JSON.parse(require(\"fs\").readFileSync(process.argv[1], \"utf8\"))" "$out/etc/sipa.json" \
    || die "rootfs-overlay/etc/sipa.json.in is not valid JSON once filled in"

  bundle_libs "$out" "$cpu"

  # Normalise modes (the tarball keeps them): directories and executables 755, the rest 644.
  find "$out" -type d -exec chmod 755 {} +
  find "$out" -type f -exec chmod go-w,a+r {} +

  if [ "$cpu" = aarch64 ]; then
    check_load_align "$out" 0x10000 || die "aarch64: some ELF is not aligned for 64 KiB pages (see above)"
  fi
}
