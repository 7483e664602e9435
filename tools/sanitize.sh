#!/usr/bin/env bash
# Builds kithd and its server and integration tests with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer (and libFuzzer's coverage,
# so the fuzz targets build here too) into build-asan/, and runs those tests
# there. A second full build: it is not part of CI (tools/test.sh) for time;
# run it by hand before a release and after changes to parsing or memory
# handling. Extra arguments go to ctest (e.g. -R server_ws_socket).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/deps.sh
kith_install_deps "${KITH_SANITIZER_PACKAGES[@]}"
build="${KITH_ASAN_BUILD_DIR:-$PWD/build-asan}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DKITH_BUILD_APP=OFF -DKITH_WITH_JEMALLOC=OFF >/dev/null
# The executables behind the server and integration tests (server_auth is
# tst_auth, integration_direct_chat is tst_direct_chat), and kithd itself.
mapfile -t targets < <(ctest --test-dir "$build" -N -L '^(server|integration)$' |
  sed -n 's/^ *Test *#[0-9]*: *[a-z]*_\(.*\)$/tst_\1/p')
cmake --build "$build" --target kithd "${targets[@]}"
# Qt keeps some allocations until exit: leak reports would be noise here.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" -L '^(server|integration)$' --output-on-failure --timeout 900 -j 2 "$@"
