import QtQuick

// The unread pill: accent with the count, grey when the conversation is muted.
Rectangle {
    id: badge

    property int count: 0
    property bool muted: false

    visible: count > 0
    implicitHeight: 20
    implicitWidth: Math.max(implicitHeight, label.implicitWidth + 12)
    radius: height / 2
    color: muted ? Theme.mutedBadge : Theme.accent

    Text {
        id: label
        anchors.centerIn: parent
        text: badge.count > 999 ? "999+" : badge.count
        color: Theme.accentText
        font.pixelSize: Theme.fontSmall
        font.weight: Font.DemiBold
    }
}
