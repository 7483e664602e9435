#!/usr/bin/env bash
# Builds the Debian packages from this build folder with CPack, checks what is
# in them and that their parts agree (unit, config, maintainer scripts,
# desktop entry, AppStream metadata), then runs the packaged kithd with the
# packaged config and has two packaged kith-cli users chat through it.
# Usage: check_packages.sh BUILD_DIR
set -euo pipefail

build="$1"
work="$(mktemp -d)"
kithd_pid=""
cleanup() {
    if [ -n "$kithd_pid" ] && kill -0 "$kithd_pid" 2>/dev/null; then
        kill -9 "$kithd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

(cd "$build" && cpack -G DEB -B "$work/out" >"$work/cpack.log" 2>&1) ||
    { cat "$work/cpack.log" >&2; fail "cpack could not make the packages"; }

server_deb="$(ls "$work"/out/kithd_*.deb 2>/dev/null | head -n1)"
client_deb="$(ls "$work"/out/kith_*.deb 2>/dev/null | head -n1)"
[ -f "$server_deb" ] || fail "no kithd package"
[ -f "$client_deb" ] || fail "no kith package"

root="$work/root"
mkdir -p "$root"
for deb in "$server_deb" "$client_deb"; do
    dpkg-deb -x "$deb" "$root"
    # Every package named in Depends is a real one (a machine that ran
    # tools/deps.sh has them all installed).
    depends="$(dpkg-deb -f "$deb" Depends)"
    [ -n "$depends" ] || fail "$(basename "$deb") has no Depends"
    for name in $(echo "$depends" | tr ',' '\n' | sed -e 's/(.*)//' -e 's/|.*//' | tr -d ' '); do
        dpkg-query -W "$name" >/dev/null 2>&1 || fail "$(basename "$deb") depends on unknown package $name"
    done
done
[ "$(dpkg-deb -f "$server_deb" Package)" = kithd ] || fail "server package is not named kithd"
[ "$(dpkg-deb -f "$client_deb" Package)" = kith ] || fail "client package is not named kith"

for path in usr/bin/kithd usr/lib/systemd/system/kithd.service etc/kith/kithd.ini \
    usr/bin/kith usr/bin/kith-cli usr/share/applications/kith.desktop \
    usr/share/icons/hicolor/scalable/apps/kith.svg usr/share/metainfo/kith.metainfo.xml; do
    [ -e "$root/$path" ] || fail "/$path is not in the packages"
done

# The maintainer scripts, the config marked as a conffile.
control="$work/control"
dpkg-deb -e "$server_deb" "$control"
for script in postinst prerm postrm; do
    [ -x "$control/$script" ] || fail "kithd has no executable $script"
    sh -n "$control/$script" || fail "kithd's $script does not parse"
done
grep -qx /etc/kith/kithd.ini "$control/conffiles" || fail "/etc/kith/kithd.ini is not a conffile"

# The unit runs a binary and a config the package ships, as the user postinst makes.
unit="$root/usr/lib/systemd/system/kithd.service"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
read -r exec_binary exec_flag exec_config <<<"$exec_start"
[ -x "$root$exec_binary" ] || fail "ExecStart runs $exec_binary, which the package does not ship"
[ "$exec_flag" = --config ] && [ -f "$root$exec_config" ] ||
    fail "ExecStart's config ($exec_start) is not in the package"
service_user="$(sed -n 's/^User=//p' "$unit")"
sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$control/postinst" | grep -q "adduser .*--quiet $service_user\$" ||
    fail "postinst does not create the unit's user '$service_user'"
grep -q "^data=/var/lib/$service_user\$" "$root/etc/kith/kithd.ini" ||
    fail "the config's data folder is not the service's state directory"
grep -q "^StateDirectory=$service_user\$" "$unit" || fail "the unit has no StateDirectory"
grep -q "^WantedBy=multi-user.target\$" "$unit" || fail "the unit cannot be enabled"

# The desktop entry and the AppStream metadata pass their validators and
# name what the package ships. The app's desktop file name is plain "kith"
# (what it tells the window system), not a reverse-DNS id.
desktop="$root/usr/share/applications/kith.desktop"
desktop-file-validate "$desktop" || fail "the desktop entry does not validate"
[ -x "$root/usr/bin/$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$desktop")" ] ||
    fail "the desktop entry runs a program the package does not ship"
[ -f "$root/usr/share/icons/hicolor/scalable/apps/$(sed -n 's/^Icon=//p' "$desktop").svg" ] ||
    fail "the desktop entry's icon is not in the package"
metainfo="$root/usr/share/metainfo/kith.metainfo.xml"
appstreamcli validate --no-net --override=cid-desktopapp-is-not-rdns=info "$metainfo" >"$work/as.log" 2>&1 ||
    { cat "$work/as.log" >&2; fail "the AppStream metadata does not validate"; }
grep -q '<launchable type="desktop-id">kith.desktop</launchable>' "$metainfo" ||
    fail "the metadata does not launch kith.desktop"

# The packaged (stripped) binaries run: kithd with the packaged config, on
# loopback and a temporary data folder instead of the service's.
QT_QPA_PLATFORM=offscreen "$root/usr/bin/kith" --version | grep -q '^kith ' ||
    fail "the packaged app does not start"
"$root/usr/bin/kithd" --config "$root/etc/kith/kithd.ini" --data "$work/data" \
    --listen 127.0.0.1 --port 0 --admin-port 0 >"$work/kithd.out" 2>"$work/kithd.err" &
kithd_pid=$!
url=""
for _ in $(seq 1 200); do
    url="$(sed -n 's/^kithd ready: \(wss:[^ ]*\) .*/\1/p' "$work/kithd.out")"
    [ -n "$url" ] && break
    kill -0 "$kithd_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/kithd.err" >&2; fail "the packaged kithd did not come up over wss"; }
# Its own certificate, trusted the way an admin hands it out.
fingerprint="$("$root/usr/bin/kithd" fingerprint --config "$root/etc/kith/kithd.ini" \
    --data "$work/data" | head -n1)"
[ -n "$fingerprint" ] || fail "kithd fingerprint printed nothing"
grep -q "^fingerprint $fingerprint (" "$work/kithd.out" ||
    fail "kithd did not print its fingerprint at start"

cli() {
    local home="$1"
    shift
    XDG_DATA_HOME="$home" XDG_CONFIG_HOME="$home/config" timeout 60 \
        "$root/usr/bin/kith-cli" --server "$url" --trust-fingerprint "$fingerprint" "$@"
}
cli "$work/alice" register alice 'package password' >/dev/null || fail "alice cannot register"
cli "$work/bob" register bob 'package password' >/dev/null || fail "bob cannot register"
cli "$work/alice" send bob 'hello from the package' >/dev/null || fail "alice cannot send"
cli "$work/bob" history alice | grep -q 'alice: hello from the package$' ||
    fail "bob does not see alice's message"

kill -TERM "$kithd_pid"
status=0
wait "$kithd_pid" || status=$?
kithd_pid=""
[ "$status" -eq 0 ] || fail "the packaged kithd exited $status on SIGTERM"
echo "packages ok: $(basename "$server_deb") $(basename "$client_deb")"
