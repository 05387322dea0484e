#!/usr/bin/env bash
# `node`, the one the packages ship (build/node/current, from setup.sh): how npm start and npm run bench run.
set -euo pipefail
# shellcheck source=node-env.sh
. "$(dirname "$0")/node-env.sh"
exec node "$@"
