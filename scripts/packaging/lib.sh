# shellcheck shell=bash
# Helpers shared by build-qpkg.sh and build-overlay.sh. Sourced; expects `set -eu` and $REPO set.

say()  { printf '[%s] %s\n' "${SIPA_STEP:-build}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${SIPA_STEP:-build}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${SIPA_STEP:-build}" "$*" >&2; exit 1; }

CACHE="${SIPA_CACHE:-$REPO/build/cache}"   # SIPA_CACHE: share one cache between checkouts

# Same inputs, same bytes: every archive's timestamps come from the last commit unless the caller pins them.
sipa_source_date_epoch() {
  if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || true)
    [ -n "$SOURCE_DATE_EPOCH" ] || die "no git commit to take SOURCE_DATE_EPOCH from; set SOURCE_DATE_EPOCH"
  fi
  export SOURCE_DATE_EPOCH
}

# Deterministic tar of the contents of directory $2 into file $1 (uncompressed); $3... extra tar options.
det_tar() {
  local out=$1 dir=$2; shift 2
  local what=.
  case " $* " in *" -T "*) what= ;; esac       # an explicit member list (-T FILE) instead of the whole dir
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner --format=gnu \
      --mode='go-w' -C "$dir" -cf "$out" "$@" $what
}
det_tgz() {
  local out=$1 dir=$2; shift 2
  det_tar - "$dir" "$@" | gzip -n -6 > "$out"
}

# Debian packages the build needs; installed with apt-get when missing (as root), otherwise a clear error.
ensure_debs() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (install them with apt-get)"
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# `npm pack NAME@VERSION` into build/cache/npm-tgz once; prints the tarball path.
npm_tgz() {
  local spec=$1 dir="$CACHE/npm-tgz" name file
  mkdir -p "$dir"
  name=${spec#@}; name=${name//\//-}; name=${name/@/-}
  file="$dir/$name.tgz"
  if [ ! -s "$file" ]; then
    local tmp; tmp=$(mktemp -d "$dir/.pack.XXXXXX")
    ( cd "$tmp" && npm pack --silent --cache "$CACHE/npm" "$spec" >/dev/null ) || { rm -rf "$tmp"; die "npm pack $spec failed"; }
    mv "$tmp"/*.tgz "$file"; rm -rf "$tmp"
  fi
  printf '%s\n' "$file"
}

# dpkg must know a foreign architecture before apt can fetch its packages (apt-get download, nothing installed).
ensure_foreign_arch() {
  [ "$1" = "$(dpkg --print-architecture)" ] && return 0
  dpkg --print-foreign-architectures | grep -qx "$1" && return 0
  [ "$(id -u)" = 0 ] || die "dpkg does not know the architecture $1 (as root: dpkg --add-architecture $1 && apt-get update)"
  say "adding the dpkg architecture $1 (for apt-get download of its liblzma-dev)"
  dpkg --add-architecture "$1"
  apt-get update -qq >/dev/null 2>&1 || true
}

# The branch/call/jump filter xz(1) has for a CPU's machine code: run before LZMA2, it makes node and the libraries
# compress better (measured on the Node 20 data archives: x86_64 −0.90 MB, arm_64 −0.70 MB; qpkg/README.md "Size"). armhf: none
# (not measured). liblzma decodes it as part of the .xz stream, so unxz needs nothing else.
xz_bcj() { case "$1" in x86_64) echo --x86 ;; aarch64) echo --arm64 ;; esac; }

# Deterministic xz of the contents of directory $2 into file $1 for CPU $3: one thread, one block, the CPU's BCJ
# filter, LZMA2 preset 6 (9 MiB to unpack).
det_txz() {
  local out=$1 dir=$2 cpu=$3; shift 3
  # shellcheck disable=SC2046
  det_tar - "$dir" "$@" | xz -T1 $(xz_bcj "$cpu") --lzma2=preset=6 -c > "$out"
}

# Size of a file in bytes, human-readable MiB.
fsize() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# Is $1 an ELF file?
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

# NUL-separated list of the ELF files under $1 (one node process instead of one per file).
elf_files() {
  node -e '
    const fs = require("fs"), path = require("path");
    const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) { const fd = fs.openSync(p, "r"), b = Buffer.alloc(4); fs.readSync(fd, b, 0, 4, 0); fs.closeSync(fd);
        if (b.toString("latin1") === "\x7fELF") process.stdout.write(p + "\0"); } } };
    walk(process.argv[1]);' "$1"
}

# Largest-offending LOAD alignment check: every LOAD segment of every ELF under $1 must be aligned >= $2.
check_load_align() {
  local dir=$1 min=$2 f bad=0 a
  while IFS= read -r -d '' f; do
    for a in $(readelf -lW "$f" | awk '$1 == "LOAD" { print $NF }'); do
      if [ $((a)) -lt $((min)) ]; then warn "$f: LOAD Align $a < $min"; bad=1; fi
    done
  done < <(elf_files "$dir")
  return $bad
}
