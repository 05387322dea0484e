# shellcheck shell=bash
# Sourced: puts the Node.js the packages ship (installed by setup.sh as build/node/current) first on PATH, so
# that the tests, the bench and the demo run on it and everything they start does too (`node`,
# process.execPath, npx's and mocha's `#!/usr/bin/env node`). The machine's own Node is not what ships.
_sipa_node_bin="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/node/current/bin"
if [ ! -x "$_sipa_node_bin/node" ]; then
  echo "the shipped Node.js is not installed ($_sipa_node_bin/node): run bash scripts/setup.sh" >&2
  unset _sipa_node_bin
  # shellcheck disable=SC2317 # reached when this file is run instead of sourced
  return 1 2>/dev/null || exit 1
fi
case ":$PATH:" in *":$_sipa_node_bin:"*) ;; *) export PATH="$_sipa_node_bin:$PATH" ;; esac
unset _sipa_node_bin
