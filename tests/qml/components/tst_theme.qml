import QtQuick
import QtTest
import Kith.Theme

// Every text colour of the palette reads at WCAG AA on the surfaces it is
// drawn on, in the light and the dark palette; avatars keep users and
// groups apart; initials come from the name's words.
TestCase {
    name: "Theme"

    // WCAG 2 relative luminance of an opaque colour.
    function luminance(c) {
        const channel = v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
    }

    // A colour with alpha as it shows over an opaque background.
    function over(fg, bg) {
        return Qt.rgba(fg.a * fg.r + (1 - fg.a) * bg.r, fg.a * fg.g + (1 - fg.a) * bg.g,
                       fg.a * fg.b + (1 - fg.a) * bg.b, 1);
    }

    function contrast(fg, bg) {
        const a = luminance(over(fg, bg));
        const b = luminance(bg);
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }

    // [what, text colour, background, minimum ratio]
    function pairs() {
        const t = Theme;
        const surfaces = { window: t.window, sidebar: t.sidebar, chat: t.chatBackground,
                           surface: t.surface, selection: t.selection, hover: t.hover,
                           bubble: t.bubbleOther };
        const list = [];
        for (const name in surfaces) {
            list.push(["text on " + name, t.text, surfaces[name], 4.5]);
            list.push(["muted text on " + name, t.textMuted, surfaces[name], 4.5]);
            list.push(["accent text on " + name, t.accentFg, surfaces[name], 4.5]);
        }
        for (const name of ["window", "sidebar", "surface"])
            list.push(["danger text on " + name, t.danger, surfaces[name], 4.5]);
        list.push(["danger text on its surface", t.danger, t.dangerSurface, 4.5]);
        list.push(["placeholder on a field", t.placeholder, t.field, 4.5]);
        list.push(["text on a field", t.text, t.field, 4.5]);
        list.push(["text on own bubbles", t.accentText, t.accent, 4.5]);
        list.push(["times on own bubbles", t.accentTextMuted, t.accent, 4.5]);
        list.push(["links on own bubbles", t.linkOwn, t.accent, 4.5]);
        list.push(["links on others' bubbles", t.linkOther, t.bubbleOther, 4.5]);
        list.push(["read ticks on own bubbles (graphics: 3:1)", t.readTickOnAccent, t.accent, 3]);
        list.push(["sent ticks on own bubbles (graphics: 3:1)", t.accentTextMuted, t.accent, 3]);
        list.push(["white on a destructive button", "#ffffff", t.dangerFill, 4.5]);
        list.push(["the banner", t.warningText, t.warningSurface, 4.5]);
        list.push(["white on a muted badge", "#ffffff", t.mutedBadge, 4.5]);
        list.push(["text on a search hit", t.text, t.matchSurface, 4.5]);
        for (let i = 0; i < t.avatarPalette.length; ++i) {
            list.push(["white initials on avatar colour " + i, "#ffffff", t.avatarPalette[i], 4.5]);
            list.push(["sender name " + i + " on others' bubbles", t.senderColor(String(i)), t.bubbleOther, 4.5]);
        }
        return list;
    }

    function checkScheme(scheme) {
        Theme.scheme = scheme;
        const failures = [];
        for (const [what, fg, bg, minimum] of pairs()) {
            const ratio = contrast(Qt.color(fg), Qt.color(bg));
            if (ratio < minimum)
                failures.push("%1: %2 < %3".arg(what).arg(ratio.toFixed(2)).arg(minimum));
        }
        Theme.scheme = "system";
        compare(failures, [], scheme + " palette");
    }

    function test_lightPaletteMeetsAA() {
        checkScheme("light");
    }

    function test_darkPaletteMeetsAA() {
        checkScheme("dark");
    }

    // The first people and groups of a server all look different.
    function test_usersAndGroupsGetDifferentColours() {
        const users = [];
        for (let id = 1; id <= Theme.avatarPalette.length; ++id)
            users.push(Theme.avatarColor(String(id)));
        compare(new Set(users).size, users.length);
        for (let id = 1; id <= 20; ++id)
            verify(Theme.avatarColor("g:" + id) !== Theme.avatarColor(String(id)), "group and user " + id);
        compare(Theme.avatarColor("17"), "#c2410c"); // pinned, as in tst_format
    }

    function test_initials() {
        compare(Theme.initials("Ada Lovelace"), "AL");
        compare(Theme.initials("bob"), "B");
        compare(Theme.initials("alice (you)"), "A");
        compare(Theme.initials("release-crew"), "RC");
        compare(Theme.initials("  "), "?");
        compare(Theme.initials("🎉 party"), "P");
    }
}
