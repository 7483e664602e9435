import QtQuick
import QtQuick.Shapes

// A line icon drawn from a 24×24 vector path, so it takes the palette's colour
// and stays sharp at any size.
Item {
    id: icon

    property string name
    property color color: Theme.text
    property real lineWidth: 2

    implicitWidth: 20
    implicitHeight: 20

    readonly property var paths: ({
            "plus": "M12 5v14M5 12h14",
            "search": "M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13zM15.5 15.5l4.5 4.5",
            "back": "M15 5l-7 7l7 7",
            "send": "M4 11.5l16-7l-7 16l-2.2-6.8z",
            "compose": "M4 20h4l10.5-10.5l-4-4L4 16zM13 7l4 4",
            "group": "M9 11a3.5 3.5 0 1 0 0-7a3.5 3.5 0 1 0 0 7zM2.5 20c0-3.6 2.9-6 6.5-6s6.5 2.4 6.5 6M15.5 4.3a3.5 3.5 0 0 1 0 6.4M18 14.3c2.1.8 3.5 2.8 3.5 5.7",
            "close": "M6 6l12 12M18 6L6 18",
            "more": "M12 5.5v.01M12 12v.01M12 18.5v.01",
            "reply": "M9.5 7L4.5 12l5 5M4.5 12H14a5.5 5.5 0 0 1 5.5 5.5V19",
            "down": "M6 9.5l6 6l6-6",
            "info": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 11v5.5M12 7.5v.01",
            "logout": "M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4M9.5 16.5L5 12l4.5-4.5M5 12h10",
            "check": "M5 12.5l4.5 4.5L19 7.5",
            "ticks": "M1.5 12.5l4.5 4.5L16 7M11 17L21.5 6.5",
            "clock": "M12 4a8 8 0 1 0 0 16a8 8 0 1 0 0-16zM12 8v4.5l3 2",
            "smile": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5v.01M15 9.5v.01",
            "link": "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
            "user": "M12 12a4 4 0 1 0 0-8a4 4 0 1 0 0 8zM4.5 20c0-4 3.4-6.5 7.5-6.5s7.5 2.5 7.5 6.5",
            "settings": "M12 9a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1",
            "copy": "M9 9h10v11H9zM5 15V4h10",
            "bell": "M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15zM10 20.5h4",
            "bell-off": "M6 16V11a6 6 0 0 1 9.5-4.9M18 11v5l1.5 2H8M10 20.5h4M4 4l16 16",
            "retry": "M19.5 12a7.5 7.5 0 1 1-2.2-5.3M19.5 4.5v4.5H15",
            "server": "M4.5 4h15v7h-15zM4.5 13h15v7h-15zM8 7.5v.01M8 16.5v.01M12 7.5h4M12 16.5h4",
            "attach": "M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.3 8.3a1.7 1.7 0 0 1-2.4-2.4l7.6-7.6",
            "file": "M6 3h8l5 5v13H6zM14 3v5h5",
            "download": "M12 4v11M7 10.5l5 5l5-5M5 20h14",
            "folder": "M3 6.5h6.5l2 2H21V19H3z",
            "zoom-in": "M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13zM15.5 15.5l4.5 4.5M10.5 8v5M8 10.5h5",
            "zoom-out": "M10.5 4a6.5 6.5 0 1 0 0 13a6.5 6.5 0 1 0 0-13zM15.5 15.5l4.5 4.5M8 10.5h5",
            "open": "M14 4h6v6M20 4l-9 9M18 14v6H4V6h6",
            "pause": "M9 6v12M15 6v12",
            "play": "M8 5.5v13l10.5-6.5z",
            "pin": "M9 3.5h6M10 3.5v6l-3.5 4h11l-3.5-4v-6M12 13.5v7",
            "archive": "M3.5 4.5h17v4h-17zM5 8.5V19.5h14V8.5M10 12.5h4",
            "block": "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM5.6 5.6l12.8 12.8",
            "mic": "M12 3a3 3 0 0 0-3 3v5a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21",
            "trash": "M4.5 7h15M9.5 7V4.5h5V7M6.5 7l1 13h9l1-13M10 11v5.5M14 11v5.5"
        })

    Shape {
        anchors.centerIn: parent
        width: 24
        height: 24
        scale: Math.min(icon.width, icon.height) / 24
        layer.enabled: true
        layer.samples: 4
        layer.smooth: true

        ShapePath {
            strokeColor: icon.color
            strokeWidth: icon.name === "more" ? 3 : icon.lineWidth
            fillColor: "transparent"
            capStyle: ShapePath.RoundCap
            joinStyle: ShapePath.RoundJoin
            PathSvg {
                path: icon.paths[icon.name] || ""
            }
        }
    }
}
