import QtQuick
import Kith.Theme

// "Today", "Yesterday", "Mon 24 Nov": a small centred pill between days.
Item {
    id: pill

    property string text

    implicitHeight: 28 + Theme.spacingS
    implicitWidth: label.implicitWidth + 2 * Theme.spacingM

    Rectangle {
        anchors.centerIn: parent
        width: label.implicitWidth + 2 * Theme.spacingM
        height: 24
        radius: height / 2
        color: Theme.dark ? "#262a30" : "#dfe4ea"

        Text {
            id: label
            anchors.centerIn: parent
            text: pill.text
            color: Theme.textMuted
            font.pixelSize: Theme.fontSmall
            font.weight: Font.DemiBold
        }
    }
}
