import QtQuick
import QtQuick.Controls.Basic
import QtQuick.Layouts
import Kith.Theme

// In place of the composer in a direct chat whose peer this user blocked:
// the state in words and the way back.
Rectangle {
    id: notice

    property string name

    signal unblockRequested

    implicitHeight: row.implicitHeight + 2 * Theme.spacingM
    color: Theme.window

    Rectangle {
        anchors.left: parent.left
        anchors.right: parent.right
        anchors.top: parent.top
        height: 1
        color: Theme.border
    }

    RowLayout {
        id: row
        anchors.fill: parent
        anchors.leftMargin: Theme.spacingL
        anchors.rightMargin: Theme.spacingL
        spacing: Theme.spacingM

        Icon {
            width: 20
            height: 20
            name: "block"
            color: Theme.danger
        }
        Label {
            objectName: "blockedText"
            Layout.fillWidth: true
            text: qsTr("You blocked %1. They cannot write to you here.").arg(notice.name)
            color: Theme.text
            font.pixelSize: Theme.fontBody
            wrapMode: Text.Wrap
        }
        Button {
            id: unblock
            objectName: "unblockButton"
            text: qsTr("Unblock")
            flat: true
            onClicked: notice.unblockRequested()
            contentItem: Text {
                text: unblock.text
                color: Theme.accentFg
                font.pixelSize: Theme.fontBody
                font.weight: Font.DemiBold
                horizontalAlignment: Text.AlignHCenter
                verticalAlignment: Text.AlignVCenter
            }
            background: Rectangle {
                radius: Theme.radiusS
                color: unblock.hovered ? Theme.hover : "transparent"
            }
        }
    }
}
