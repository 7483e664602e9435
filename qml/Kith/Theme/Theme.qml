pragma Singleton
import QtQuick

// The app's palette (light and dark, following the system unless the user
// picked one), the 4 px spacing grid, type sizes and avatar colours.
QtObject {
    id: theme

    // "system", "light" or "dark"; the window sets it from the settings.
    property string scheme: "system"

    readonly property SystemPalette systemPalette: SystemPalette {
        colorGroup: SystemPalette.Active
    }
    // Qt 6.4 has no colour-scheme hint, but a dark desktop gives a dark window colour.
    readonly property bool systemIsDark: systemPalette.window.hslLightness < 0.5
    readonly property bool dark: scheme === "dark" || (scheme === "system" && systemIsDark)

    // Surfaces, from the outermost in.
    readonly property color window: dark ? "#16181b" : "#ffffff"
    readonly property color sidebar: dark ? "#1c1f23" : "#f5f6f8"
    readonly property color chatBackground: dark ? "#121416" : "#eef1f4"
    readonly property color surface: dark ? "#23272c" : "#ffffff"
    readonly property color field: dark ? "#262a30" : "#eceef1"
    readonly property color hover: dark ? "#25292e" : "#eaecef"
    readonly property color selection: dark ? "#233650" : "#dde9fb"
    readonly property color border: dark ? "#2c3036" : "#e1e4e8"

    // Text. Every text colour reads at WCAG AA (4.5:1) on each surface it
    // is drawn on, in both palettes (tests/qml/components/tst_theme.qml).
    readonly property color text: dark ? "#e8eaed" : "#1b1f24"
    readonly property color textMuted: dark ? "#a2a8b0" : "#5c636d"
    readonly property color placeholder: dark ? "#959ba3" : "#666d76"

    // Accent: own bubbles, badges, primary buttons (filled, white text on
    // it), and accentFg for accent-coloured text and icons on the surfaces
    // (links, "typing…", the unread time): in the dark palette no one blue
    // does both.
    readonly property color accent: dark ? "#2a63c0" : "#2560c0"
    readonly property color accentPressed: dark ? "#2456a8" : "#1f52a6"
    readonly property color accentFg: dark ? "#72a8f5" : "#2560c0"
    readonly property color accentText: "#ffffff"
    readonly property color accentTextMuted: Qt.rgba(1, 1, 1, 0.9)
    readonly property color bubbleOther: dark ? "#262b31" : "#ffffff"
    readonly property color mutedBadge: dark ? "#4a5058" : "#6b727c"
    // Links inside a bubble: on own (accent) bubbles white and underlined.
    readonly property color linkOther: accentFg
    readonly property color linkOwn: "#ffffff"
    // Two ticks in this colour on one's own bubble: read (not just sent).
    readonly property color readTickOnAccent: "#9ff0c4"

    readonly property color danger: dark ? "#f07a7a" : "#c62f2f"
    readonly property color dangerFill: "#c62f2f"
    readonly property color dangerSurface: dark ? "#3a2224" : "#fde8e8"
    readonly property color online: dark ? "#3fcf83" : "#23a55a"
    readonly property color warningSurface: dark ? "#3a321d" : "#fff3d1"
    readonly property color warningText: dark ? "#f1d48a" : "#6b4e00"
    readonly property color pill: dark ? Qt.rgba(1, 1, 1, 0.08) : Qt.rgba(0, 0, 0, 0.06)
    // Search hits in text, and the flash of a message jumped to.
    readonly property color matchSurface: dark ? "#5a4a12" : "#ffe58a"
    readonly property color flash: dark ? "#f1d48a" : "#e0a800"

    // The 4 px grid.
    readonly property int grid: 4
    readonly property int spacingXs: 4
    readonly property int spacingS: 8
    readonly property int spacingM: 12
    readonly property int spacingL: 16
    readonly property int spacingXl: 24

    readonly property int radiusS: 8
    readonly property int radiusM: 12
    readonly property int bubbleRadius: 14

    // Type: system font, body 14 px (the text size setting moves it), the
    // rest follows it: secondary one step smaller.
    property int fontBody: 14
    readonly property int fontSmall: fontBody - 2
    readonly property int fontTiny: fontBody - 3
    readonly property int fontTitle: fontBody + 1
    readonly property int fontHeadline: fontBody + 8

    readonly property int listRowHeight: 64
    readonly property int headerHeight: 56

    // Avatars: white initials on these read at 4.5:1. In a group, the
    // sender's name takes the same hue: the avatar colour itself on the light
    // bubble, a lighter tint of it on the dark one.
    readonly property var avatarPalette: ["#c73e3e", "#2e7d32", "#b35900", "#1d6fc2", "#7d52c7",
        "#c2185b", "#00796b", "#c2410c", "#3f51b5", "#8e3fa8"]
    readonly property var senderPaletteDark: ["#f08a8a", "#7fd183", "#f0b45c", "#6fb0f0", "#b39af0",
        "#f07aa8", "#4fc7b8", "#f49b6c", "#8f9df0", "#d08ee6"]

    // A stable colour index per user or group. Ids are handed out in
    // order, so users take the palette in turn (the first ten people of a
    // server all differ) and groups ("g:N") take it from the other end with
    // a step, so group N and user N differ too.
    // key -> palette index chosen by the user (their own avatar colour).
    property var colorOverrides: ({})

    function colorIndex(key) {
        const s = String(key);
        const n = avatarPalette.length;
        if (colorOverrides[s] !== undefined && colorOverrides[s] >= 0)
            return colorOverrides[s] % n;
        let match = /^(g:)?(\d+)$/.exec(s);
        if (match) {
            const id = parseInt(match[2], 10);
            return match[1] ? (n - 1 - (id * 3) % n + n) % n : id % n;
        }
        let hash = 0;
        for (let i = 0; i < s.length; ++i)
            hash = (hash * 31 + s.charCodeAt(i)) % 2147483647;
        return hash % n;
    }

    function avatarColor(key) {
        return avatarPalette[colorIndex(key)];
    }

    // The palette index of a colour a user chose (User.avatar_color 1..16),
    // or of `key` when they chose none (0).
    function chosenIndex(key, chosen) {
        return chosen > 0 ? (chosen - 1) % avatarPalette.length : colorIndex(key);
    }

    // A sender's name over a bubble in a group: the hue of their avatar,
    // the one they chose where they chose one.
    function senderColor(key, chosen) {
        const i = chosenIndex(key, chosen || 0);
        return dark ? senderPaletteDark[i] : avatarPalette[i];
    }

    // "Ada Lovelace" -> "AL", "bob" -> "B", "alice (you)" -> "A": words
    // without a letter or digit ("(you)", "—", an emoji) do not count.
    function initials(name) {
        const words = String(name).trim().split(/[\s._-]+/);
        const firsts = [];
        for (const word of words) {
            const m = /[^!-\/:-@\[-`{-~\u2000-\u2bff\ud800-\udfff]/.exec(word);
            if (m && !word.startsWith("("))
                firsts.push(m[0]);
        }
        if (firsts.length === 0)
            return "?";
        return (firsts.length === 1 ? firsts[0] : firsts[0] + firsts[1]).toUpperCase();
    }
}
