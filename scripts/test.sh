#!/usr/bin/env bash
# The whole test suite: the gates (types, lint, ShellCheck on every shell file), the native helper's own tests
# (static analysis, golden vectors on every arch, fuzzing), then mocha.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=node-env.sh
. scripts/node-env.sh
echo "[test] gates: the daemon type-checks without DOM and mocha types, the panel type-checks, ESLint finds nothing"
npx tsc -p tsconfig.module.json
npx tsc -p module/panel/tsconfig.json
npx eslint --max-warnings 0 .
# Every shell file the repository has (tracked, or new and not ignored): by name, by a shell shebang, or by a
# `# shellcheck shell=` line near the top (sourced files). Settings: .shellcheckrc.
shell_files=()
while IFS= read -r f; do
  case "$f" in
    *.sh|*.sh.in) shell_files+=("$f") ;;
    *) [ -f "$f" ] && sed -n 1,5p "$f" | grep -qE '^#!.*[/ ](ba|da)?sh$|^# shellcheck shell=' && shell_files+=("$f") ;;
  esac
done < <(git ls-files --cached --others --exclude-standard)
echo "[test] ShellCheck on ${#shell_files[@]} shell files"
shellcheck "${shell_files[@]}"
echo "[test] native helper: clang static analyzer (any finding fails)"
make -s -C native check
echo "[test] native helper: golden vectors on x86_64, aarch64 and armhf (qemu), fuzz target"
make -s -C native test
echo "[test] mocha (unit, store, kernel in namespaces, end to end) on Node.js $(node --version), as shipped"
npx mocha "$@"
