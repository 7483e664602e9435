#!/usr/bin/env bash
# Installs the dependencies, builds Kith and starts kithd on its embedded
# SQLite default with its data in ./kith-data. Extra arguments go to kithd.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/deps.sh
kith_install_deps
# The server and the app, not the tests and tools: a newcomer waits for this.
KITH_BUILD_TARGETS="kithd kith" kith_build
exec ./build/server/kithd --data ./kith-data "$@"
