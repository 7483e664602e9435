import QtQuick

// A circle with the initials of a name on a colour derived from a stable key
// (the user or group id), with an optional presence dot.
Item {
    id: avatar

    property string name
    property string colorKey: name
    property int size: 40
    // Whether to draw the presence dot at all (direct peers only).
    property bool showPresence: false
    property bool online: false
    // The colour behind the avatar, so the presence dot gets a clean ring.
    property color ringColor: Theme.sidebar

    implicitWidth: size
    implicitHeight: size

    Rectangle {
        anchors.fill: parent
        radius: width / 2
        color: Theme.avatarColor(avatar.colorKey)

        Text {
            anchors.centerIn: parent
            text: Theme.initials(avatar.name)
            color: "white"
            font.pixelSize: Math.round(avatar.size * 0.38)
            font.weight: Font.DemiBold
        }
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
