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

    // Text.
    readonly property color text: dark ? "#e8eaed" : "#1b1f24"
    readonly property color textMuted: dark ? "#949aa3" : "#69707a"
    readonly property color placeholder: dark ? "#6f757d" : "#9aa0a8"

    // Accent: own bubbles, badges, primary buttons, links.
    readonly property color accent: dark ? "#4d8ff0" : "#2f74d8"
    readonly property color accentPressed: dark ? "#3b7bd9" : "#245fb5"
    readonly property color accentText: "#ffffff"
    readonly property color accentTextMuted: Qt.rgba(1, 1, 1, 0.72)
    readonly property color bubbleOther: dark ? "#262b31" : "#ffffff"
    readonly property color mutedBadge: dark ? "#4a5058" : "#a3a9b1"

    readonly property color danger: dark ? "#f06a6a" : "#d23a3a"
    readonly property color dangerSurface: dark ? "#3a2224" : "#fde8e8"
    readonly property color online: dark ? "#3fcf83" : "#23a55a"
    readonly property color warningSurface: dark ? "#3a321d" : "#fff3d1"
    readonly property color warningText: dark ? "#f1d48a" : "#6b4e00"
    readonly property color pill: dark ? Qt.rgba(1, 1, 1, 0.08) : Qt.rgba(0, 0, 0, 0.06)

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

    // Type: system font, body 14 px, secondary one step smaller.
    readonly property int fontBody: 14
    readonly property int fontSmall: 12
    readonly property int fontTiny: 11
    readonly property int fontTitle: 15
    readonly property int fontHeadline: 22

    readonly property int listRowHeight: 64
    readonly property int headerHeight: 56

    // Saturated enough for white initials in both palettes.
    readonly property var avatarPalette: ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7",
        "#ee7aae", "#6ec9cb", "#faa774", "#5f9ed1", "#b38ed6"]

    // A stable colour per user (or group): the same key always gives the same colour.
    function avatarColor(key) {
        const s = String(key);
        let hash = 0;
        for (let i = 0; i < s.length; ++i)
            hash = (hash * 31 + s.charCodeAt(i)) % 2147483647;
        return avatarPalette[hash % avatarPalette.length];
    }

    // "Ada Lovelace" -> "AL", "bob" -> "B".
    function initials(name) {
        const words = String(name).trim().split(/[\s._-]+/).filter(w => w.length > 0);
        if (words.length === 0)
            return "?";
        if (words.length === 1)
            return words[0].charAt(0).toUpperCase();
        return (words[0].charAt(0) + words[1].charAt(0)).toUpperCase();
    }
}
