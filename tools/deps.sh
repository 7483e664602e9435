#!/usr/bin/env bash
# Installs what Kith needs to build, run and test, from Debian's packages.
# Sourced by tools/run.sh and tools/test.sh; safe to run again.
set -euo pipefail

KITH_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git clang-format
  qt6-base-dev qt6-websockets-dev qt6-httpserver-dev
  libqt6sql6-sqlite libqt6sql6-psql
  qt6-declarative-dev qt6-declarative-dev-tools
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-window qml6-module-qtquick-templates qml6-module-qtquick-dialogs
  qml6-module-qtqml-workerscript qml6-module-qttest qml6-module-qt-labs-platform
  # Qt's own file dialog (where the desktop offers none) lists folders with it.
  qml6-module-qt-labs-folderlistmodel
  qml6-module-qt-labs-settings qml6-module-qtqml-models qml6-module-qtquick-shapes
  qtkeychain-qt6-dev
  libprotobuf-dev protobuf-compiler libsodium-dev zlib1g-dev libssl-dev libsqlite3-dev sqlite3 openssl libjemalloc-dev
  libpq-dev postgresql libhiredis-dev redis-server haproxy iproute2
  libavahi-client-dev avahi-daemon avahi-utils
  xvfb xauth dbus-daemon fonts-noto-color-emoji
  desktop-file-utils appstream qt6-qpa-plugins
  # Voice notes: recording and playing (Qt Multimedia), and a PulseAudio
  # daemon of the tests' own as their microphone.
  qt6-multimedia-dev pulseaudio
)
# For tools/fuzz.sh and tools/sanitize.sh only (not CI): clang with libFuzzer
# and the sanitizer runtimes, which Debian's clang only recommends.
KITH_SANITIZER_PACKAGES=(clang libclang-rt-14-dev)

# Installs the packages above, and any named as arguments, that are missing.
kith_install_deps() {
  local missing=()
  for p in "${KITH_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds into build/ (or $KITH_BUILD_DIR).
kith_build() {
  local src build
  src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  build="${KITH_BUILD_DIR:-$src/build}"
  local launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@"
  # KITH_BUILD_TARGETS (space-separated): only these, e.g. what tools/run.sh runs.
  local targets=()
  [[ -n "${KITH_BUILD_TARGETS:-}" ]] && read -r -a targets <<<"$KITH_BUILD_TARGETS"
  if ((${#targets[@]})); then
    cmake --build "$build" -j "$(nproc)" --target "${targets[@]}"
  else
    cmake --build "$build" -j "$(nproc)"
  fi
}
