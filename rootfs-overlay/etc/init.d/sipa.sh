#!/bin/sh
# Secure IP Access in a firmware image: the runtime lives in /usr/local/sipa (read-only image), the store on
# the flash config partition (its path is "dataDir" in /usr/local/sipa/etc/sipa.json). The service logic is
# the QPKG's own service script; standalone mode skips App Center's Enable flag and registers the panel.
SIPA_STANDALONE=1
SIPA_ROOT=@OVERLAY_ROOT@
export SIPA_STANDALONE SIPA_ROOT
exec /bin/sh "$SIPA_ROOT/sipa.sh" "$@"
