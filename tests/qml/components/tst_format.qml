import QtQuick
import QtTest
import Kith.Theme

// Day labels, list times and avatar colours.
TestCase {
    name: "Format"

    readonly property real now: new Date(2026, 10, 27, 15, 30).getTime()

    function test_dayLabels() {
        compare(Format.day(new Date(2026, 10, 27, 0, 5).getTime(), now), "Today");
        compare(Format.day(new Date(2026, 10, 26, 23, 59).getTime(), now), "Yesterday");
        compare(Format.day(new Date(2026, 10, 24, 12, 0).getTime(), now), Qt.formatDate(new Date(2026, 10, 24), "ddd d MMM"));
        compare(Format.day(new Date(2025, 0, 3, 12, 0).getTime(), now), Qt.formatDate(new Date(2025, 0, 3), "d MMM yyyy"));
    }

    function test_listTime() {
        compare(Format.listTime(new Date(2026, 10, 27, 9, 5).getTime(), now), "09:05");
        compare(Format.listTime(new Date(2026, 10, 25, 9, 5).getTime(), now), Qt.formatDate(new Date(2026, 10, 25), "ddd"));
        compare(Format.listTime(new Date(2026, 9, 1, 9, 5).getTime(), now), Qt.formatDate(new Date(2026, 9, 1), "d MMM"));
        compare(Format.listTime(0, now), "");
    }

    function test_avatarColourIsStablePerUser() {
        // Pinned: a user keeps their colour across restarts and releases, so
        // the mapping from key to colour may not change (user ids take the
        // palette in turn, groups from the other end, other keys by a hash).
        compare(Theme.avatarColor("1"), "#2e7d32");
        compare(Theme.avatarColor("42"), "#b35900");
        compare(Theme.avatarColor("123456789012"), "#b35900");
        compare(Theme.avatarColor("g:7"), "#3f51b5");
        compare(Theme.avatarColor("carol@example"), "#1d6fc2");
        compare(Theme.avatarColor("kith-bot"), "#c2410c");
        compare(Theme.avatarColor(42), Theme.avatarColor("42"));
        verify(Theme.avatarPalette.indexOf(Theme.avatarColor("anything")) >= 0);
        const seen = {};
        for (let i = 1; i <= 40; ++i)
            seen[Theme.avatarColor(String(i))] = true;
        verify(Object.keys(seen).length >= 5, "user ids spread over the palette");
    }

    function test_initials() {
        compare(Theme.initials("Ada Lovelace"), "AL");
        compare(Theme.initials("bob"), "B");
        compare(Theme.initials("ann.lee"), "AL");
        compare(Theme.initials(""), "?");
    }

    function test_schemeOverridesSystem() {
        Theme.scheme = "dark";
        verify(Theme.dark);
        Theme.scheme = "light";
        verify(!Theme.dark);
        Theme.scheme = "system";
        compare(Theme.dark, Theme.systemIsDark);
    }
}
