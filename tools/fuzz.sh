#!/usr/bin/env bash
# Builds the fuzz targets with clang, libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer (in build-asan/, shared with tools/sanitize.sh)
# and runs each for SECONDS, one after the other and at the lowest priority.
# The corpus grows in build-asan/tools/fuzz/corpus/; a crash leaves its input
# there as <target>-crash-*. Record long runs in docs/operations.md.
#   tools/fuzz.sh [SECONDS] [TARGET...]     (default: 30 s, both targets)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source tools/deps.sh
kith_install_deps "${KITH_SANITIZER_PACKAGES[@]}"
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_ws_socket fuzz_dispatch)
build="${KITH_ASAN_BUILD_DIR:-$PWD/build-asan}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DKITH_BUILD_APP=OFF -DKITH_WITH_JEMALLOC=OFF >/dev/null
cmake --build "$build" --target "${targets[@]}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for target in "${targets[@]}"; do
  corpus="$build/tools/fuzz/corpus/$target"
  mkdir -p "$corpus"
  echo "== $target for ${seconds}s"
  nice -n 19 "$build/tools/fuzz/$target" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/tools/fuzz/$target-" \
    "$corpus" "tools/fuzz/corpus/$target"
done
