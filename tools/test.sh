#!/usr/bin/env bash
# Installs the dependencies, builds Kith and runs every test with CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/deps.sh
kith_install_deps
kith_build
build="${KITH_BUILD_DIR:-$PWD/build}"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j 2 --timeout 600
