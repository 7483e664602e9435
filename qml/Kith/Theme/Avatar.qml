import QtQuick
import Kith.Theme

// A person's or group's avatar: their picture in a circle when there is one
// (a local file, once fetched), else a circle with the initials of a name on
// a colour: the one the user chose (chosenColor 1..16, a palette entry) or one
// derived from a stable key (the user or group id). An optional presence dot.
Item {
    id: avatar

    property string name
    property string colorKey: name
    // The picture as a local file URL; empty: none (or not fetched yet).
    property url source
    // The colour the user chose, as the server keeps it: 0 for the one
    // derived from colorKey, n for palette entry n - 1.
    property int chosenColor: 0
    property int size: 40
    // Whether to draw the presence dot at all (direct peers only).
    property bool showPresence: false
    property bool online: false
    // The colour behind the avatar, so the presence dot gets a clean ring.
    property color ringColor: Theme.sidebar
    // Whether the picture is what shows (false: the initials).
    readonly property bool showsPicture: picture.ready

    implicitWidth: size
    implicitHeight: size

    Rectangle {
        objectName: "initialsCircle"
        anchors.fill: parent
        radius: width / 2
        visible: !picture.ready
        color: Theme.avatarPalette[Theme.chosenIndex(avatar.colorKey, avatar.chosenColor)]

        Text {
            anchors.centerIn: parent
            text: Theme.initials(avatar.name)
            color: "white"
            font.pixelSize: Math.round(avatar.size * 0.38)
            font.weight: Font.DemiBold
        }
    }

    RoundImage {
        id: picture
        objectName: "picture"
        anchors.fill: parent
        source: avatar.source
        visible: ready
    }

    Rectangle {
        objectName: "presenceDot"
        visible: avatar.showPresence && avatar.online
        width: Math.max(10, Math.round(avatar.size * 0.28))
        height: width
        radius: width / 2
        anchors.right: parent.right
        anchors.bottom: parent.bottom
        color: Theme.online
        border.width: 2
        border.color: avatar.ringColor
    }
}
